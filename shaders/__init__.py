"""GLSL sources of the studio's stereo viewer (loaded by studio.viewer.shaders; no Python code here)."""
