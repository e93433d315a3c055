"""Fixtures of the core tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from thirdparty import install

from harness import registry
from harness.cache import Cache
from harness.config import load_config


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
def tiny_cache(tmp_path_factory) -> Cache:
    """One cache for the runs of ``tiny_config.TINY`` (world 5, seeds 0 and 1) that need no cold build:
    ``tiny_run`` (``test_run_e2e.py``, ``test_world_measures.py``), the two-world matrix of
    ``test_worlds.py`` (``test_sweep.py``'s default point), the budget curves and the controls report.
    World 5's data, base encoder, teachers and zero-shot / bm25 cells are then built once, not once per
    test.  A cache hit is the stored artefact itself, so every score is what a cold cache gives; the
    tests about cold runs, locks, pools or other executors keep caches of their own."""
    return Cache(tmp_path_factory.mktemp("tiny-cache"))


@pytest.fixture(scope="session")
def tiny_cfg(tmp_path_factory) -> Path:
    """``tiny_config.TINY`` with no extra method: zero-shot and bm25 over seeds 0 and 1."""
    from tiny_config import TINY

    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(TINY.format(extra=""))
    return path


@pytest.fixture(scope="session")
def tiny_run(tiny_cfg, tiny_cache, tmp_path_factory):
    """``harness run`` of ``tiny_cfg`` (run and report) on ``tiny_cache``: the result and the cache.

    Shared by ``test_run_e2e.py`` (layout, re-runs, resumption) and ``test_world_measures.py`` (the
    measures in the manifest, analysis and report): one run of the same config serves both."""
    from harness_reports import run_and_report

    cache = tiny_cache
    out = tmp_path_factory.mktemp("runs") / "tiny"
    res = run_and_report(load_config(tiny_cfg), run_dir=out, cache=cache, progress=False, log=lambda s: None)
    return res, cache
