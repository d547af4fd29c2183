"""`--path-map FROM=TO`: shared storage that one machine sees at FROM and another at TO.

    mapping = parse_path_maps(["/Volumes/show=/mnt/show"])
    map_path("/Volumes/show/reel/a.mp4", mapping)       # -> Path("/mnt/show/reel/a.mp4")
    worker_request = map_render_request(request, mapping)  # every path a worker reads or writes, as it sees them

A path is mapped by its first matching FROM (whole path components: FROM=/mnt/a maps /mnt/a and
/mnt/a/x, never /mnt/ab); a path no FROM matches is left as it is. Mapping is textual (the worker's
TO need not exist here) and applies to absolute paths only.

Where it is used: `render --path-map` maps the media paths stored in the project (a project written on
another machine); with `--ray` it maps every path the actors get (project media, master, work dir,
depth cache, models, imported depth); with `--emit` the task commands carry the workers' paths and
the `--path-map` itself (for the media paths inside the project file a worker loads).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from engine.errors import UsageError

PathMap = tuple[tuple[str, str], ...]


def parse_path_map(text: str) -> tuple[str, str]:
    """'FROM=TO' -> (FROM, TO), both absolute and normalised; UsageError otherwise."""
    src, sep, dst = text.partition("=")
    if not sep or not src or not dst:
        raise UsageError(f"--path-map {text!r}: give FROM=TO (e.g. /Volumes/show=/mnt/show)")
    src, dst = posixpath.normpath(src), posixpath.normpath(dst)
    if not (src.startswith("/") and dst.startswith("/")):
        raise UsageError(f"--path-map {text!r}: both sides must be absolute paths")
    return src, dst


def parse_path_maps(texts: Iterable[str] | None) -> PathMap:
    """Every `--path-map` given, in order (the first matching one wins)."""
    return tuple(parse_path_map(t) for t in texts or ())


def map_path(path: str | Path, mapping: PathMap) -> Path:
    """`path` with its first matching FROM prefix replaced by TO; unchanged when none matches."""
    text = posixpath.normpath(str(path))
    for src, dst in mapping:
        if text == src or text.startswith(src.rstrip("/") + "/"):
            return Path(dst + text[len(src):]) if src != "/" else Path(posixpath.join(dst, text.lstrip("/")))
    return Path(path)


def map_project_media(project, mapping: PathMap):
    """`project` with every clip's media path mapped (None passes through)."""
    if project is None or not mapping:
        return project
    clips = tuple(replace(c, media=str(map_path(c.media, mapping))) for c in project.clips)
    return replace(project, clips=clips)


def map_render_request(request, mapping: PathMap):
    """A RenderRequest with every path a worker touches mapped: project media, input, master, work dir,
    project file, depth cache, models folder and imported depth."""
    if not mapping:
        return request
    c = request.convert
    m = lambda p: None if p is None else map_path(p, mapping)  # noqa: E731
    convert = replace(c, input=m(c.input), output=m(c.output), cache_dir=m(c.cache_dir),
                      project=map_project_media(c.project, mapping),
                      depth=None if c.depth is None else replace(c.depth, path=m(c.depth.path)),
                      depth_config=replace(c.depth_config, models_dir=m(c.depth_config.models_dir)))
    return replace(request, convert=convert, work_dir=m(request.work_dir), project_file=m(request.project_file))
