"""Fixtures of the core tests."""

from __future__ import annotations

import sys

import pytest
from thirdparty import install

from harness import registry


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
