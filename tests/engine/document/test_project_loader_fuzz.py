"""Property-based fuzzing of the project loader (issue #14): whatever the bytes, a Project or an
InvalidProject naming the file — never another exception."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.document import Project, load_project, project_to_dict
from engine.errors import InvalidProject
from tests.engine.document.test_schema import full_project

FIXTURES = Path(__file__).parent / "fixtures"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_leaf = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def _valid_documents() -> list[dict]:
    docs = [project_to_dict(full_project("clip.mp4"))]
    docs += [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.sdproj"))]
    return docs


def _paths(value, prefix=()):
    """Every (path, leaf-or-node) of a JSON value."""
    yield prefix, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


def _replaced(doc, path, new):
    if not path:
        return new
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replaced(doc[path[0]], path[1:], new)
    return copy


@st.composite
def mutated_documents(draw):
    """A valid Project.0/1/2 document with one to three nodes replaced by arbitrary JSON (or deleted)."""
    doc = draw(st.sampled_from(_valid_documents()))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, _ in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = _replaced(doc, (), doc)
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            doc = _replaced(doc, path[:-1], {k: v for k, v in parent.items() if k != path[-1]})
        else:
            doc = _replaced(doc, path, draw(json_value))
    return doc


def _load(tmp_path: Path, data: bytes, name: str = "fuzz.sdproj") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        assert isinstance(load_project(path), Project)
    except InvalidProject as exc:
        assert str(path) in exc.one_line()


@FUZZ
@given(doc=mutated_documents())
def test_mutated_projects_load_or_are_refused_cleanly(tmp_path, doc):
    _load(tmp_path, json.dumps(doc).encode())


@FUZZ
@given(doc=json_value)
def test_arbitrary_json_is_refused_cleanly(tmp_path, doc):
    _load(tmp_path, json.dumps(doc).encode())
    _load(tmp_path, json.dumps({"schema": "Project.2", "clips": doc}).encode())


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_cleanly(tmp_path, data):
    _load(tmp_path, data)
    _load(tmp_path, data, "fuzz.otio")


def test_deeply_nested_json_is_refused_cleanly(tmp_path):
    _load(tmp_path, b"[" * 100_000 + b"]" * 100_000)
