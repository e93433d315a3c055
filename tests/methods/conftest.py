"""Fixtures of the method tests: the example third-party plugin, and a tiny world with a teacher."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load_helper(name: str, path: Path):
    """Import a helper module of this directory by path (tests/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_plugin_helper = _load_helper("harness_tests_example_plugin", Path(__file__).with_name("example_plugin.py"))
ExposedPlugin = _plugin_helper.ExposedPlugin
exposed_example_plugin = _plugin_helper.exposed_example_plugin


@pytest.fixture
def example_plugin(tmp_path_factory) -> ExposedPlugin:
    """The example plugin package (``examples/harness-lang-center``) installed as a
    distribution on ``sys.path`` and discovered through its entry point; removed after
    the test.  ``example_plugin.env()`` exposes it to subprocesses."""
    with exposed_example_plugin(tmp_path_factory.mktemp("example-plugin-site")) as plugin:
        yield plugin
