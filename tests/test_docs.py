"""The documentation: README promises, the generated configuration reference, doctests, the Sphinx build."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def config_reference():
    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "docs" / "_ext" / "config_reference.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("config_reference", mod)  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)


# ----------------------------------------------------------------------------- README
def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    text = README.read_text()
    start = text.index("**Run the tests**")
    block = fenced_blocks(text[start:], "bash")[0].strip()
    assert (
        block
        == ci
        == (
            'python3 -m venv .venv && . .venv/bin/activate && pip install -q -c constraints.txt ".[test]" '
            "&& python -m pytest"
        )
    )


def test_readme_is_short_and_its_links_resolve():
    text = README.read_text()
    assert 150 <= len(text.splitlines()) <= 200
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert "docs/_static/report-headline.png" in local and "docs/configuration.md" in local
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, missing
    for page in ("statistics", "protocol", "miracl", "scale", "plugins", "configuration", "results", "runs"):
        assert f"docs/{page}.md" in local, page


def test_one_runtime_claim():
    """The README states the default run's time once; no page or shipped config states another."""
    claim = re.compile(r"\b(\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?|about \d+) minutes? on \d+ (?:CPU )?cores\b")

    def claims(path: Path) -> list[str]:
        return claim.findall(" ".join(path.read_text().split()))

    (readme,) = claims(README)
    assert readme == "3-5"
    for page in [*ROOT.glob("docs/*.md"), ROOT / "harness" / "configs" / "default.toml"]:
        assert set(claims(page)) <= {readme}, page


def test_readme_keeps_no_run_figures():
    """The figures live in docs/results.md (written by perf/doc_figures.py), not in the README."""
    text = README.read_text()
    assert "<!--" not in text
    assert "<!-- default-run:begin -->" in (ROOT / "docs" / "results.md").read_text()


def test_readme_screenshot_is_a_real_png():
    from PIL import Image

    png = ROOT / "docs" / "_static" / "report-headline.png"
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width >= 800 and 300 <= img.height <= 2000
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50  # text, table and figure, not a blank page


# ----------------------------------------------------------------------------- configuration reference
def test_config_reference_covers_every_section_and_option():
    from pydantic import BaseModel

    from harness.config import RawConfig
    from harness.registry import BENCHMARKS, EXECUTORS, METHODS

    ref = config_reference()
    sections = ref.sections()
    titles = [s.title for s in sections]
    for name, field in RawConfig.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            assert f"[{name}]" in titles
        elif name not in ref._fixed_sections() and name not in ref.PLUGIN_SECTIONS:
            # a scalar or a list; a table (dict) must be mapped to its model in the extension
            assert typing.get_origin(ann) is not dict and ann is not dict, (
                f"top-level table {name!r}: add its model to docs/_ext/config_reference.py"
            )
    for section in ("[mini]", "[teacher]", "[training]", "[analysis]", "[index]", "[model]", "[output]"):
        assert section in titles
    for m in METHODS.names():
        assert f"[methods.{m}]" in titles
    for b in BENCHMARKS.names():
        assert f'[benchmark] name = "{b}"' in titles
    for e in EXECUTORS.names():
        assert f'[executor] kind = "{e}"' in titles
    options = [o for s in sections for o in ref.options(s)]
    assert len(options) >= 180
    undocumented = [o.key for o in options if not o.description]
    assert not undocumented, f"options without a Field description: {undocumented}"
    by_key = {o.key: o for o in options}
    assert by_key["analysis.target_difference"].default == "0.02"
    assert by_key["seeds"].default == "[0, 1, 2]" and by_key["top_k"].allowed == ">= 1, <= 10000"
    assert by_key["index.dtype"].type == '"float16" | "float32"'
    assert by_key["mini.layers"].allowed == ">= 1, <= 48"
    assert "methods.ot-distill.epsilon" in by_key and "executor.num_gpus_per_cell" in by_key


def test_config_reference_reads_numpy_attribute_sections():
    ref = config_reference()

    class Model:
        """A model.

        Attributes
        ----------
        alpha : float
            The level
            of the tests.
        methods, languages : tuple[str, ...] or None
            Restrict the analysis.

        Notes
        -----
        alpha : not an attribute.
        """

    assert ref.docstring_fields(Model) == {
        "alpha": "The level of the tests.",
        "methods": "Restrict the analysis.",
        "languages": "Restrict the analysis.",
    }


def test_config_reference_markdown_lists_every_option():
    ref = config_reference()
    text = ref.render_markdown()
    for s in ref.sections():
        assert f"## `{s.title}`" in text or s.prefix == ""
        for o in ref.options(s):
            assert f"| `{o.key}` |" in text


# ----------------------------------------------------------------------------- doctests
def _modules_with_examples() -> list[str]:
    out = []
    for package, folder in (("harness", "harness"), ("harness_methods", "methods"), ("harness_reports", "reports")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if ">>> " in path.read_text():
                rel = path.relative_to(ROOT / folder).with_suffix("")
                parts = [p for p in rel.parts if p != "__init__"]
                out.append(".".join([package, *parts]))
    return out


@pytest.mark.parametrize("module", _modules_with_examples())
def test_doctests(module):
    mod = importlib.import_module(module)
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(mod) if t.examples]
    assert tests, f"{module}: no examples found"
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{module}: {result.failed} of {result.attempted} examples failed"


def test_doctests_cover_the_modules_with_examples():
    mods = _modules_with_examples()
    assert {"harness.batching", "harness.search", "harness_methods.translation"} <= set(mods)


# ----------------------------------------------------------------------------- the site
@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    """`sphinx-build -W`: a broken reference, a page outside the toctree or a docstring error fails."""
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    reference = (tmp_path / "configuration.html").read_text()
    assert "analysis.target_difference" in reference and "methods.ot-distill.epsilon" in reference
    api = (tmp_path / "api" / "harness.html").read_text()
    assert 'id="harness.plugin.FitContext"' in api and 'id="harness.registry.register_method"' in api
    assert ".. py:" not in api  # autodoc's output was parsed as reST, not shown as text
    assert "Parameters" in (tmp_path / "api" / "stats.html").read_text()  # napoleon read the numpy sections
    assert (tmp_path / "results.html").is_file() and (tmp_path / "notes" / "index.html").is_file()
