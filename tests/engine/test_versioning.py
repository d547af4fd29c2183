"""engine.versioning: current_or_none, the cache's reading of a schema tag (a mismatch is a miss)."""

from __future__ import annotations

import pytest

from engine.versioning import current_or_none, upgrade


@upgrade("VersioningTestCache", 1)
def _test_cache_1_to_2(data: dict) -> dict:
    return {**data, "entries": [*data["entries"], "added by the upgrade"]}


def test_a_current_document_is_returned_as_it_is():
    data = {"schema": "VersioningTestCache.2", "entries": ["a"]}
    assert current_or_none(data, "VersioningTestCache", 2) == data


def test_an_older_document_goes_through_the_registered_upgrade():
    upgraded = current_or_none({"schema": "VersioningTestCache.1", "entries": ["a"]}, "VersioningTestCache", 2)
    assert upgraded == {"schema": "VersioningTestCache.2", "entries": ["a", "added by the upgrade"]}


@pytest.mark.parametrize("data", [
    {"schema": "VersioningTestCache.3", "entries": []},   # newer than this version
    {"schema": "VersioningTestCache.0", "entries": []},   # older, with no upgrade registered
    {"schema": "OtherFormat.2", "entries": []},           # another format
    {"schema": "VersioningTestCache", "entries": []},     # malformed tag
    {"entries": []},                                      # no tag
    ["VersioningTestCache.2"],                            # not a dict
    None,
])
def test_anything_else_is_none(data):
    assert current_or_none(data, "VersioningTestCache", 2) is None
