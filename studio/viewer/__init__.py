"""The stereo viewer: eyes built live on the GPU (a QOpenGLWindow in a widget container, GLSL), or on the CPU."""
