"""docs/screenshot.py: the README's picture of a report's headline, taken by headless Chromium."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def script():
    spec = importlib.util.spec_from_file_location("docs_screenshot", ROOT / "docs" / "screenshot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_headline_only_hides_every_other_section(tmp_path, make_results, make_run):
    from harness_reports import rerender

    mod = script()
    run = make_run(tmp_path / "run", make_results(seed=1))
    rerender(run, force=True)
    html = (run / "report.html").read_text()
    shown = mod.headline_only(html)
    assert shown.count(mod.HEADLINE_ONLY) == 1 and shown.replace(mod.HEADLINE_ONLY, "") == html  # nothing else changes
    assert shown.index(mod.HEADLINE_ONLY) < shown.index("</head>")
    with pytest.raises(SystemExit, match="not a harness report"):
        mod.headline_only("<html><head></head><body>hello</body></html>")


@pytest.mark.browser
def test_screenshot_of_a_report(tmp_path, make_results, make_run):
    from PIL import Image

    from harness_reports import rerender

    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("no chromium binary on PATH (install Debian's `chromium` package)")
    mod = script()
    run = make_run(tmp_path / "run", make_results(seed=1))
    rerender(run, force=True)
    out = mod.screenshot(run / "report.html", tmp_path / "shot.png", width=900, height=2400)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width <= 900
        assert 300 < img.height < 2400  # trimmed to the header and the headline, not the whole page
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50
