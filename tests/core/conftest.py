"""Fixtures of the core tests."""

from __future__ import annotations

import sys

import pytest
from thirdparty import install

from harness import registry
from harness.cache import Cache


@pytest.fixture
def table_plugins(tmp_path, monkeypatch):
    """The tiny third-party distribution of ``thirdparty.py`` installed on ``sys.path`` and discovered."""
    site = install(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    registry.discover(force=True)
    yield site
    for reg, name in (
        (registry.BENCHMARKS, "table"),
        (registry.EXECUTORS, "reverse-serial"),
        (registry.METHODS, "nan-vectors"),
        (registry.METHODS, "sleepy"),
    ):
        reg.unregister(name)
    sys.modules.pop("table_plugins", None)
    monkeypatch.undo()
    registry.discover(force=True)


@pytest.fixture(scope="session")
def two_world_cache(tmp_path_factory) -> Cache:
    """The cache of the tiny two-world matrix (``tiny_config.TINY`` on worlds 5 and 6 with ot-distill and
    contrastive, 4 steps each), shared by ``test_sweep.py`` (its default point is that matrix) and
    ``test_worlds.py``: whichever runs second reads the first's cells instead of training them again.
    A cache hit is the stored artefact itself, so the scores are those of a cold run; the tests that
    need a cold build (the local pool in ``test_worlds.py``) use a fresh cache of their own."""
    return Cache(tmp_path_factory.mktemp("two-world-cache"))
