"""Reports opened in headless Chromium (Debian's ``chromium`` driven by Playwright).

Checks: the page loads with no console errors and no request beyond the file itself, every
section is present and visible, figures decode, a screenshot is not blank, user text with
HTML is shown literally and never executed, and (on a real ``smoke`` run) the report is
under 5 MB, loads in under 3 s, re-renders byte-identically and reproduces score by score.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SECTIONS = ("headline", "setup", "leaderboard", "tiers", "variance", "pairwise", "seeds", "power", "reproducibility")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="alert(2)">'


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH or at /usr/bin/chromium (install Debian's `chromium` package)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as p:
        # launch() gives every browser a fresh temporary profile (--user-data-dir)
        b = p.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Visit:
    page: object
    seconds: float
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def visit(browser, path: Path) -> Visit:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    v = Visit(page, 0.0)
    page.on("console", lambda m: v.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: v.console_errors.append(str(e)))
    page.on("request", lambda r: v.requests.append(r.url))

    def on_dialog(d):
        v.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    t0 = time.perf_counter()
    page.goto(path.resolve().as_uri(), wait_until="load")
    v.seconds = time.perf_counter() - t0
    return v


def check_page(v: Visit, path: Path, sections=SECTIONS) -> None:
    page = v.page
    assert v.console_errors == []
    assert v.requests == [path.resolve().as_uri()], "the report must fetch nothing beyond itself"
    for sid in sections:
        loc = page.locator(f"section#{sid}")
        assert loc.count() == 1, f"section {sid} missing"
        assert loc.is_visible(), f"section {sid} not visible"
        assert loc.locator("h2").inner_text().strip()
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)"
    )
    assert broken == [], f"figures that did not decode: {broken}"
    assert page.evaluate("() => Array.from(document.images).every(i => i.alt.length > 20)")
    assert page.evaluate(
        "() => Array.from(document.querySelectorAll('table')).every(t => t.caption && t.querySelector('th'))"
    )
    from PIL import Image, ImageStat

    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("L")
    assert shot.size[1] > 2000
    assert ImageStat.Stat(shot).stddev[0] > 10, "screenshot is blank"
    assert len(shot.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20


# ----------------------------------------------------------------------------- hand-made run (fast)
@pytest.fixture(scope="module")
def xss_report(tmp_path_factory, make_results, make_manifest):
    from harness.stats import analyze
    from harness_reports import render_report

    results = make_results(seed=4)
    manifest = make_manifest(results, name=f"hand{XSS_SCRIPT}")
    manifest["config"]["description"] = f"run {XSS_SCRIPT} {XSS_IMG}"
    manifest["methods"]["ot-distill"]["description"] = f"plugin {XSS_SCRIPT}"
    manifest["methods"]["contrastive"]["options"] = {"note": XSS_IMG}
    manifest["status"] = "partial"
    manifest["cells"].append({"method": "broken", "seed": 0, "status": "failed", "error": f"RuntimeError: {XSS_IMG}"})
    analysis = analyze(results, manifest["config"]["analysis"], tiers=manifest["benchmark"]["tiers"]).to_dict()
    return render_report(tmp_path_factory.mktemp("xss"), manifest=manifest, analysis=analysis)


def test_hand_made_report_in_chromium(browser, xss_report):
    v = visit(browser, xss_report)
    check_page(v, xss_report, (*SECTIONS, "failed"))
    assert v.page.locator("#synthetic-banner").is_visible()
    assert v.page.locator("#verdict").text_content().strip() in ("yes", "no", "inconclusive")
    check_layout(v.page)
    assert v.seconds < 3.0
    # print: the table of contents is dropped, folded tables are printed
    assert not v.page.locator("#pairwise-all").is_visible()
    v.page.emulate_media(media="print")
    assert v.page.locator("#pairwise-all").is_visible() and not v.page.locator("nav.toc").is_visible()
    assert v.page.pdf(format="A4")[:5] == b"%PDF-"
    v.page.close()


def check_layout(page) -> None:
    """The headline reads first, short columns never break inside a word, the page is not a scroll marathon."""
    top = page.evaluate("() => document.querySelector('#headline-table').getBoundingClientRect().top + window.scrollY")
    fig = page.evaluate("() => document.querySelector('#fig-verdict').getBoundingClientRect().bottom + window.scrollY")
    assert top < 1100 and fig < 1800, (top, fig)  # question, verdict, table and figure within two screens
    assert page.locator("#verdict-sentence").is_visible() and page.locator("#fig-verdict img").is_visible()
    assert not page.locator("#headline-details p").first.is_visible()  # the detail is folded below
    # one line per short cell (the "dens e" bug): a kind cell is no taller than a one-word method-name cell
    heights = page.evaluate(
        "() => Array.from(document.querySelectorAll('#methods-table td.method-kind'))"
        ".map(td => [td.scrollWidth <= td.clientWidth, td.innerText])"
    )
    assert heights and all(fits for fits, _ in heights), heights
    words_split = page.evaluate(
        "() => Array.from(document.querySelectorAll('td.text')).filter(td => {"
        " const w = td.innerText.trim(); if (td.children.length || !w || /\\s/.test(w) || w.length >= 20) return false;"
        " const r = document.createRange(); r.selectNodeContents(td);"
        " const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));"
        " return tops.size > 1; }).map(td => td.innerText)"
    )
    assert words_split == [], f"short words broken across lines: {words_split}"
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 9000, f"page is {height} px tall"


def test_user_text_is_shown_literally_never_executed(browser, xss_report):
    v = visit(browser, xss_report)
    page = v.page
    assert v.dialogs == [] and v.console_errors == []
    assert page.locator("#run-name").inner_text() == f"hand{XSS_SCRIPT}"
    assert page.locator("#run-description").inner_text() == f"run {XSS_SCRIPT} {XSS_IMG}"
    assert page.locator(".method-description", has_text=XSS_SCRIPT).is_visible()
    assert page.locator(".method-options", has_text="note").text_content() == json.dumps({"note": XSS_IMG})
    assert XSS_IMG in page.locator(".failed-error").inner_text()
    # nothing was injected: the only scripts are none, the only images are the report's figures
    assert page.evaluate("() => document.scripts.length") == 0
    assert page.evaluate("() => Array.from(document.images).every(i => i.src.startsWith('data:image/svg+xml'))")
    page.close()


def test_comparison_report_in_chromium(browser, tmp_path, make_results, make_run):
    from harness_reports.compare import compare_runs

    a = make_results(seed=6, methods=("ot-distill", "contrastive"))
    b = a.assign(value=a["value"] + 0.01 * (a["method"] == "ot-distill"))
    path = compare_runs(make_run(tmp_path / "a", a), make_run(tmp_path / "b", b))
    v = visit(browser, path)
    check_page(v, path, ("headline", "setup", "differences", "queries"))
    v.page.close()


# ----------------------------------------------------------------------------- a real smoke run
def session_cache(tmp_path_factory) -> Path:
    """The test session's cache root (the one tests/conftest.py points HARNESS_CACHE at).

    Module-scoped fixtures run before the function-scoped fixture that sets HARNESS_CACHE,
    so they must name it explicitly rather than call ``Cache.default()``.
    """
    return tmp_path_factory.getbasetemp() / "harness-cache"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """``harness run smoke`` into a temp directory, on the session's temporary cache."""
    from harness.cache import Cache
    from harness.config import load_config
    from harness_reports import run_and_report as run_matrix

    run_dir = tmp_path_factory.mktemp("smoke") / "run"
    res = run_matrix(
        load_config("smoke"),
        run_dir=run_dir,
        cache=Cache(session_cache(tmp_path_factory)),
        progress=False,
        log=lambda s: None,
    )
    assert res.status == "complete", [f.error for f in res.failed]
    return run_dir


@pytest.mark.slow
def test_real_run_report_in_chromium(browser, smoke_run):
    path = smoke_run / "report.html"
    size = path.stat().st_size
    assert size < 5_000_000
    v = visit(browser, path)
    check_page(v, path)
    assert v.seconds < 3.0, f"report took {v.seconds:.2f} s to load"
    analysis = json.loads((smoke_run / "analysis.json").read_text())
    assert v.page.locator("#verdict").text_content().strip() == analysis["question"]["verdict"]
    check_layout(v.page)
    assert v.page.locator("#scope-note").count() == 0  # synthetic run: no MIRACL scope box
    assert "``" not in v.page.locator("#methods-table").inner_text()
    assert (
        v.page.locator("#config-sha256").inner_text()
        == json.loads((smoke_run / "manifest.json").read_text())["config_sha256"]
    )
    for name in ("leaderboard.csv", "pairwise.csv", "leaderboard.tex", "pairwise.tex"):
        assert (smoke_run / name).stat().st_size > 100
    v.page.close()


@pytest.mark.slow
def test_harness_report_rerenders_identically(smoke_run, capsys):
    from harness.cli import main

    before = (smoke_run / "report.html").read_bytes()
    out = smoke_run.parent / f"{smoke_run.name}-rerendered"
    assert main(["report", str(smoke_run), "--out", str(out)]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    assert (out / "report.html").read_bytes() == before  # beside the run, identical; the run is untouched


@pytest.mark.slow
def test_reproduce_real_run(smoke_run, tmp_path, tmp_path_factory):
    import pandas as pd

    from harness_reports.reproduce import reproduce_run

    # on the session cache every stage is reused: this checks the plumbing, not the arithmetic
    cache = session_cache(tmp_path_factory)
    res = reproduce_run(smoke_run, out_dir=tmp_path / "again", cache_dir=cache)
    assert res.identical, res.summary()
    assert res.tolerance == 0.0 and "REPRODUCED" in res.summary()
    assert json.loads((tmp_path / "again" / "reproduce.json").read_text())["identical"] is True
    # a changed score in the original is found and named
    results = pd.read_parquet(smoke_run / "results.parquet")
    row = results.index[
        (results.method == "bm25") & (results.seed == 1) & (results.language == results.language.iloc[0])
    ][0]
    tampered = tmp_path / "tampered"
    shutil.copytree(smoke_run, tampered, ignore=shutil.ignore_patterns(".lock"))
    results.loc[row, "value"] += 0.25
    results.to_parquet(tampered / "results.parquet", index=False)
    res = reproduce_run(tampered, out_dir=tmp_path / "again2", cache_dir=cache)
    assert not res.identical
    (cell,) = res.comparison.cells
    assert (cell.method, cell.seed, cell.language) == ("bm25", 1, results.language.iloc[0])
    assert cell.max_abs_diff == pytest.approx(0.25)
    assert f"bm25 seed=1 {results.language.iloc[0]}: 1 of" in res.summary()


@pytest.mark.slow
def test_reproduce_real_run_from_an_empty_cache(smoke_run, tmp_path):
    """`harness reproduce` with its default fresh cache: every stage is recomputed and must match exactly (CPU)."""
    from harness.cli import main

    out = tmp_path / "fresh"
    code = main(["reproduce", str(smoke_run), "--out", str(out)])
    verdict = json.loads((out / "reproduce.json").read_text())
    assert verdict["tolerance"] == 0.0 and verdict["config_changes"] == []
    assert code == 0 and verdict["identical"], "\n".join(
        f"{c['method']} seed={c['seed']} {c['language']}: {c['n_differ']} differ, max {c['max_abs_diff']}"
        for c in verdict["cells"]
    )
