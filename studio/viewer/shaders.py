"""Loading and linking the GLSL sources in ``shaders/`` (``common.glsl`` is prepended to each stage)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from OpenGL import GL

GLSL_VERSION = "#version 330 core\n"
COMPUTE_GLSL_VERSION = "#version 430 core\n"
SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"


class ShaderError(RuntimeError):
    """A shader failed to compile or link (the message names the file and carries the driver's log)."""


@cache
def shader_source(name: str) -> str:
    """The text of ``shaders/<name>`` (the ``shaders`` package beside ``studio``, in a checkout or installed)."""
    return (SHADER_DIR / name).read_text(encoding="utf-8")


def stage_source(name: str, defines: dict[str, int] | None = None) -> str:
    """A complete stage: the version line (4.30 for a compute stage, ``.comp``), `defines`
    (``#define NAME value``), the shared functions, then the stage itself."""
    lines = "".join(f"#define {key} {value}\n" for key, value in (defines or {}).items())
    version = COMPUTE_GLSL_VERSION if name.endswith(".comp") else GLSL_VERSION
    return version + lines + shader_source("common.glsl") + "\n#line 1\n" + shader_source(name)


def _compile(name: str, kind: int, defines: dict[str, int] | None = None) -> int:
    shader = GL.glCreateShader(kind)
    GL.glShaderSource(shader, stage_source(name, defines))
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log = GL.glGetShaderInfoLog(shader)
        GL.glDeleteShader(shader)
        raise ShaderError(f"shaders/{name} does not compile: {_text(log)}")
    return shader


def build_program(vertex: str, fragment: str, defines: dict[str, int] | None = None) -> int:
    """Compile and link ``shaders/<vertex>`` and ``shaders/<fragment>`` (both with `defines`); ShaderError
    on failure."""
    stages = [_compile(vertex, GL.GL_VERTEX_SHADER, defines), _compile(fragment, GL.GL_FRAGMENT_SHADER, defines)]
    return _link(stages, f"shaders/{vertex} + {fragment} do not link")


def build_compute(name: str, defines: dict[str, int] | None = None) -> int:
    """Compile and link the compute stage ``shaders/<name>`` (GL 4.3); ShaderError on failure."""
    return _link([_compile(name, GL.GL_COMPUTE_SHADER, defines)], f"shaders/{name} does not link")


def _link(stages: list[int], failure: str) -> int:
    """One program of the compiled `stages` (they are deleted); ShaderError '<failure>: <log>' when it
    does not link."""
    program = GL.glCreateProgram()
    for s in stages:
        GL.glAttachShader(program, s)
    GL.glLinkProgram(program)
    for s in stages:
        GL.glDetachShader(program, s)
        GL.glDeleteShader(s)
    if not GL.glGetProgramiv(program, GL.GL_LINK_STATUS):
        log = GL.glGetProgramInfoLog(program)
        GL.glDeleteProgram(program)
        raise ShaderError(f"{failure}: {_text(log)}")
    return program


def _text(log: bytes | str) -> str:
    text = log.decode(errors="replace") if isinstance(log, bytes) else str(log)
    return " ".join(text.split())
