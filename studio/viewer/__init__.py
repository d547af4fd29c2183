"""The stereo viewer: both eyes built live on the GPU (QOpenGLWidget + GLSL), or on the CPU without GL 3.3."""
