"""The example third-party plugin is found through its distribution's entry point."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from harness import registry
from harness.plugin import Method


def test_example_plugin_is_an_installed_distribution(example_plugin):
    dist = importlib.metadata.distribution(example_plugin.distribution)
    assert dist.version == example_plugin.version == "0.2.0"
    eps = [ep for ep in dist.entry_points if ep.group == registry.METHODS.group]
    assert [(ep.name, ep.value) for ep in eps] == [("lang-center", "harness_lang_center:LanguageCentering")]
    # The RECORD lists every installed file, as a wheel install would.
    files = {str(f) for f in dist.files}
    assert "harness_lang_center/__init__.py" in files


def test_example_plugin_is_listed_with_its_distribution(example_plugin):
    infos = {m.name: m for m in registry.list_methods()}
    info = infos["lang-center"]
    assert info.ok, info.error
    assert info.distribution == "harness-lang-center 0.2.0"
    assert info.version == "0.2.0" and info.flavour == "dense"
    assert info.description.startswith("Teacher embeddings centred per language")
    cls = registry.get_method("lang-center")
    assert issubclass(cls, Method) and cls.citation.startswith("@")
    # The built-in methods are still there.
    assert {"zero-shot", "bm25", "ot-distill", "contrastive", "translate-test", "translate-train"} <= set(infos)


def test_example_plugin_config_is_closed(example_plugin):
    cls = registry.get_method("lang-center")
    assert cls({"sample_size": 7}).config.sample_size == 7
    with pytest.raises(ValueError, match="sample_sise"):
        cls({"sample_sise": 7})


def test_example_plugin_is_gone_after_the_fixture(tmp_path):
    assert "lang-center" not in registry.available_methods()
    assert "harness_lang_center" not in sys.modules


def test_example_plugin_is_visible_to_a_subprocess(example_plugin):
    code = (
        "from harness.registry import list_methods\n"
        "print([(m.name, m.distribution) for m in list_methods() if m.name == 'lang-center'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=example_plugin.env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "('lang-center', 'harness-lang-center 0.2.0')" in out.stdout


def test_example_plugin_fits_in_40_lines():
    """The complete third-party plugin (its Python) fits in 40 lines, as docs/plugins.md says."""
    from example_plugin import EXAMPLE_DIR

    lines = (EXAMPLE_DIR / "src" / "harness_lang_center" / "__init__.py").read_text().splitlines()
    assert len(lines) <= 40
