"""report.html and its exports, rendered from simulated results analysed by harness.stats (no browser)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from harness_reports import render_report, rerender
from harness_reports._render import fmt_num, fmt_p, fmt_p_rel, fmt_signed, latex_escape
from harness_reports.view import ReportDataError, build_view

SECTIONS = ("headline", "setup", "leaderboard", "tiers", "variance", "pairwise", "seeds", "power", "reproducibility")
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _analysis(results: pd.DataFrame, manifest: dict, **options) -> dict:
    from harness.stats import analyze

    opts = {**manifest["config"]["analysis"], **options}
    return analyze(results, opts, tiers=manifest["benchmark"]["tiers"]).to_dict()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, make_results, make_manifest):
    """One hand-made run, analysed and rendered: (run_dir, manifest, analysis, html)."""
    results = make_results(seed=3)
    run_dir = tmp_path_factory.mktemp("run")
    manifest = make_manifest(results)
    analysis = _analysis(results, manifest)
    path = render_report(run_dir, manifest=manifest, analysis=analysis, results=results)
    return run_dir, manifest, analysis, path.read_text()


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}".*?</section>', html, re.S)
    assert m, f"section {sid} missing"
    return m.group(0)


def test_every_section_and_no_external_reference(rendered):
    run_dir, _, _, html = rendered
    for sid in SECTIONS:
        assert f'<section id="{sid}"' in html
    assert 'id="failed"' not in html  # no failed cells, no section
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*"(?!data:|#)', html), "only data: URIs and in-page links are allowed"
    assert "default-src 'none'" in html  # CSP: the page may fetch nothing
    assert 'id="synthetic-banner"' in html and "not from MIRACL" in html
    assert 'id="scope-note"' not in html  # the MIRACL/OPTICAL scope note only on MIRACL runs
    # every figure has alt text and a caption
    imgs = re.findall(
        r"<figure id=\"(fig-[a-z]+)\">\s*<img src=\"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+\" alt=\"([^\"]+)\">\s*"
        r"<figcaption>([^<]+)</figcaption>",
        html,
    )
    assert {i[0] for i in imgs} == {
        "fig-verdict",
        "fig-leaderboard",
        "fig-tiers",
        "fig-dispersion",
        "fig-variance",
        "fig-pairwise",
        "fig-seeds",
    }
    assert all(len(alt) > 40 and len(cap) > 40 for _, alt, cap in imgs)
    # every table has a caption and column headers
    tables = re.findall(r"<table[^>]*>(.*?)</table>", html, re.S)
    assert len(tables) >= 10
    assert all("<caption>" in t and "<th" in t for t in tables)
    assert (run_dir / "report.html").stat().st_size < 5_000_000


def test_headline_is_generated_from_the_analysis(rendered):
    from harness_reports.verdict import verdict_summary

    _, _, analysis, html = rendered
    q = analysis["question"]
    head = _section(html, "headline")
    assert f'id="verdict">{q["verdict"]}<' in head
    # first the question and the verdict in one sentence (the one reports.verdict writes)
    vs = verdict_summary(analysis)
    assert head.index('id="question"') < head.index('id="verdict-sentence"') < head.index('id="headline-table"')
    assert re.search(r'<span id="verdict-sentence">(.*?)</span>', head, re.S).group(1) == vs.body.replace("'", "&#39;")
    gap, disp = q["difference"]["gap"], q["difference"]["dispersion"]
    assert f"D = {gap['estimate']:+.4f}, 95% CI [{gap['ci'][0]:.4f}, {gap['ci'][1]:.4f}]" in vs.body
    # then the compact table: every method, tier means with CIs, gap, reduction vs the baseline
    table = re.search(r'<table id="headline-table">(.*?)</table>', head, re.S).group(1)
    rows = re.findall(r"<tr[^>]*><th scope=\"row\" class=\"text\">([^\n<]+)", table)
    assert [r.strip() for r in rows] == ["ot-distill", "contrastive", "zero-shot", "bm25"]
    for m in q["per_method"]:
        for key in ("low_mean", "high_mean", "gap"):
            est = m[key]
            assert (
                f'{fmt_num(est["estimate"], 3)} <span class="muted small">[{est["ci"][0]:.3f}, {est["ci"][1]:.3f}]'
                in table
            )
        red = m["gap_reduction_vs_baseline"]
        if red:
            assert f"{fmt_signed(red['estimate'], 3)} <span" in table
    # then one figure of D against the +-delta band, and the details below it
    assert head.index('id="headline-table"') < head.index('id="fig-verdict"') < head.index('id="headline-details"')
    details = re.search(r'<details id="headline-details">(.*?)</details>', head, re.S).group(1)
    assert fmt_signed(gap["estimate"], 4) in details and fmt_signed(disp["estimate"], 4) in details
    assert f"seed-level p = {fmt_p(gap['p_value_seed'])}" in details
    assert f"query-level p = {fmt_p(gap['p_value_query'])}" in details
    for reason in q["reasons"]:
        assert reason.replace("'", "&#39;") in details
    # the headline paragraph itself stays short: no p-values, one interval
    text = re.sub(r"<[^>]+>", "", re.search(r'<p class="headline".*?</p>', head, re.S).group(0))
    assert "p =" not in text and text.count("CI") == 1 and len(text) < 400


def test_leaderboard_has_a_difference_vs_baseline_column(rendered):
    _, _, analysis, html = rendered
    board = _section(html, "leaderboard")
    assert "&minus; zero-shot" in board
    pooled = {
        (c["method_a"], c["method_b"]): c
        for c in analysis["pairwise"]["comparisons"]
        if c["metric"] == "ndcg@10" and c["language"] == "all"
    }
    for m in ("bm25", "contrastive", "ot-distill"):
        c, sign = (pooled[(m, "zero-shot")], 1) if (m, "zero-shot") in pooled else (pooled[("zero-shot", m)], -1)
        row = re.search(rf'<th scope="row" class="text">{m}</th>(.*?)</tr>', board, re.S).group(1)
        cell = re.search(r'<td class="vs-baseline[^"]*">(.*?)</td>', row, re.S).group(1)
        assert cell.startswith(fmt_signed(sign * c["mean_diff"], 3))


def test_tier_figure_pairs_each_methods_tiers_and_seed_figure_shows_spread(rendered):
    _, _, analysis, html = rendered
    alt = re.search(r'<figure id="fig-tiers">\s*<img [^>]*alt="([^"]+)"', html).group(1)
    labels = re.findall(r"([\w-]+ · (?:high|low))", alt)
    methods = analysis["design"]["methods"]
    assert labels == [f"{m} · {t}" for m in methods for t in ("high", "low")]  # method by method, tiers paired
    alt = re.search(r'<figure id="fig-seeds">\s*<img [^>]*alt="([^"]+)"', html).group(1)
    assert "minus its mean over seeds" in alt
    for s in analysis["method_means"]:
        if s["metric"] == "ndcg@10":
            devs = [
                x["overall"] - s["mean"]
                for x in analysis["seed_scores"]
                if x["metric"] == "ndcg@10" and x["method"] == s["method"]
            ]
            assert f"{s['method']}: " + ", ".join(f"{d:+.4f}" for d in devs) in alt


def test_methods_table_renders_rst_and_never_breaks_short_words(tmp_path, make_results, make_manifest):
    results = make_results(seed=1)
    manifest = make_manifest(results)
    manifest["methods"]["bm25"]["description"] = "Okapi BM25 (``bm25s``), see :class:`~x.Y` and `docs <https://e>`_."
    html = render_report(tmp_path, manifest=manifest, analysis=_analysis(results, manifest)).read_text()
    setup = _section(html, "setup")
    assert "Okapi BM25 (<code>bm25s</code>), see <code>x.Y</code> and docs." in setup
    assert "``" not in setup and ":class:" not in setup
    assert '<td class="text nowrap method-kind">dense</td>' in setup
    css = html[html.index("<style>") : html.index("</style>")]
    assert "overflow-wrap: anywhere" not in css.split("td.text {")[1].split("}")[0]


def test_scope_note_only_on_miracl_runs(tmp_path, make_results, make_manifest):
    results = make_results(seed=1)
    manifest = make_manifest(results)
    manifest["benchmark"] = {**manifest["benchmark"], "name": "miracl", "synthetic": False}
    html = render_report(tmp_path, manifest=manifest, analysis=_analysis(results, manifest)).read_text()
    assert 'id="scope-note"' in html and "MIRACL is monolingual retrieval" in html
    assert 'id="synthetic-banner"' not in html


def test_no_p_value_reads_equals_less_than(rendered, tmp_path, make_results):
    import copy

    _, manifest, analysis, _ = rendered
    tiny = copy.deepcopy(analysis)
    tiny["question"]["interaction"]["p_value"] = 1e-6
    for g in tiny["question"]["difference"].values():
        g.update(p_value_seed=1e-5, p_value_query=1e-7, p_value_hierarchical=2e-6)
    html = render_report(tmp_path, manifest=manifest, analysis=tiny, results=make_results(seed=3)).read_text()
    assert "p &lt; 0.001" in html  # tiny p-values are written "p < 0.001" ...
    assert "= &lt;" not in html  # ... never "p = < 0.001"


def test_fit_messages_are_folded_not_inline(rendered):
    _, _, analysis, html = rendered
    tiers = _section(html, "tiers")
    inter = re.search(r'<p id="interaction">(.*?)</p>', tiers, re.S).group(1)
    assert "messages" not in inter.lower()
    assert analysis["question"]["interaction"]["messages"]  # this simulated design's fit has one (boundary)
    for msg in analysis["question"]["interaction"]["messages"]:
        assert msg.replace("'", "&#39;") in tiers.split('id="interaction-messages"')[1]


def test_leaderboard_pairwise_and_seeds_show_analysis_numbers(rendered):
    _, _, analysis, html = rendered
    board = _section(html, "leaderboard")
    for r in analysis["per_method_language"]:
        if r["metric"] == "ndcg@10":
            assert f'{fmt_num(r["mean"], 3)}<br><span class="muted small">[{r["ci"][0]:.3f}, {r["ci"][1]:.3f}]' in board
    pw = _section(html, "pairwise")
    assert "holm" in pw and "significant in" in pw
    for s in analysis["pairwise"]["summaries"]:
        assert f"significant in {s['significant_languages']} of {s['n_languages']} languages" in pw
    seeds = _section(html, "seeds")
    for s in analysis["seed_scores"]:
        if s["metric"] == "ndcg@10":
            assert f"seed {s['seed']}: {s['overall']:.4f}" in seeds
    power = _section(html, "power")
    assert fmt_num(analysis["power"]["question"]["mdd"], 4) in power


def test_exports_match_the_analysis(rendered):
    run_dir, _, analysis, _ = rendered
    board = pd.read_csv(run_dir / "leaderboard.csv")
    n = len(analysis["per_method_language"]) + len(analysis["tier_means"]) + len(analysis["method_means"])
    assert len(board) == n and set(board.scope) == {"language", "tier", "all"}
    first = analysis["per_method_language"][0]
    row = board[
        (board.scope == "language")
        & (board.method == first["method"])
        & (board.language == first["language"])
        & (board.metric == first["metric"])
    ].iloc[0]
    assert row["mean"] == pytest.approx(first["mean"], rel=1e-5)
    assert row["ci_low"] == pytest.approx(first["ci"][0], rel=1e-5)
    pw = pd.read_csv(run_dir / "pairwise.csv")
    assert len(pw) == len(analysis["pairwise"]["comparisons"])
    c = analysis["pairwise"]["comparisons"][-1]
    last = pw.iloc[-1]
    assert (last.method_a, last.method_b, last.language) == (c["method_a"], c["method_b"], c["language"])
    assert last.p_adjusted == pytest.approx(c["p_adjusted"], rel=1e-5)
    for name in ("leaderboard.tex", "pairwise.tex"):
        tex = (run_dir / name).read_text()
        assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex and "\\end{tabular}" in tex
        assert "ot-distill" in tex and "ndcg@10" in tex
    tex = (run_dir / "leaderboard.tex").read_text()
    assert tex.count("\\textbf{") >= 3  # best per column
    body = [line for line in tex.splitlines() if line.startswith("zero-shot")]
    assert len(body) == 1 and body[0].count("&") == 4 + 2 + 1  # 4 languages, 2 tiers, average


def test_rendering_is_deterministic(rendered, tmp_path):
    run_dir, manifest, analysis, html = rendered
    again = render_report(tmp_path, manifest={**manifest}, analysis=analysis).read_text()
    assert again.replace(str(tmp_path), str(run_dir)) == html


def test_user_text_is_escaped(tmp_path, make_results, make_manifest):
    results = make_results(seed=1, methods=("ot-distill", "contrastive"))
    manifest = make_manifest(results)
    manifest["config"]["description"] = XSS
    manifest["methods"]["ot-distill"]["description"] = XSS
    manifest["methods"]["contrastive"]["options"] = {"note": XSS}
    manifest["benchmark"]["parameters"] = {"x": XSS}
    html = render_report(tmp_path, manifest=manifest, analysis=_analysis(results, manifest)).read_text()
    assert "<script" not in html.lower() and "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert "&lt;img src=x onerror=" in html


def test_degenerate_question_says_so(tmp_path, make_results, make_manifest):
    results = make_results(methods=("zero-shot", "bm25"))
    manifest = make_manifest(results)
    html = render_report(tmp_path, manifest=manifest, analysis=_analysis(results, manifest)).read_text()
    head = _section(html, "headline")
    assert "could not be answered" in head and "ot-distill" in head
    assert "verdict-degenerate" in head
    assert "not available" in _section(html, "tiers").lower()


def test_failed_cells_and_missing_analysis(tmp_path, make_results, make_manifest):
    results = make_results(methods=("zero-shot", "ot-distill", "contrastive"))
    manifest = make_manifest(results, status="partial")
    manifest["cells"].append(
        {
            "method": "bm25",
            "seed": 0,
            "status": "failed",
            "error": "ValueError: <b>boom</b>",
            "traceback": "Traceback (most recent call last):\n  ValueError",
        }
    )
    manifest["failed_cells"] = [{"method": "bm25", "seed": 0, "error": "ValueError: <b>boom</b>"}]
    (tmp_path / "leaderboard.csv").write_text("stale")
    html = render_report(
        tmp_path, manifest=manifest, analysis={"error": "no finished cells: nothing to analyse"}
    ).read_text()
    failed = _section(html, "failed")
    assert "ValueError: &lt;b&gt;boom&lt;/b&gt;" in failed and "Traceback" in failed
    assert 'id="status-banner"' in html and "partial" in html
    for sid in ("leaderboard", "tiers", "variance", "pairwise", "seeds", "power"):
        assert "Not available: no finished cells" in _section(html, sid)
    assert "No statistics are available" in _section(html, "headline")
    assert not (tmp_path / "leaderboard.csv").exists()  # stale exports removed


def test_schema_mismatch_is_an_error(rendered):
    _, _, analysis, _ = rendered
    broken = {k: v for k, v in analysis.items() if k != "pairwise"}
    with pytest.raises(ReportDataError, match="analysis.json .*lacks.*pairwise"):
        build_view(broken)


def test_rerender_recomputes_missing_or_stale_analysis(tmp_path, make_results, make_run):
    run = make_run(tmp_path / "run", make_results(seed=2))
    path = rerender(run, force=True)
    analysis = json.loads((run / "analysis.json").read_text())
    assert path == run / "report.html" and path.is_file()
    assert analysis["design"]["methods"] and analysis["question"]["verdict"] in ("yes", "no", "inconclusive")
    analysis["schema_version"] = -1
    analysis["question"]["verdict"] = "tampered"
    (run / "analysis.json").write_text(json.dumps(analysis))
    html = rerender(run, force=True).read_text()
    assert "tampered" not in html  # stale schema: recomputed
    fresh = json.loads((run / "analysis.json").read_text())
    fresh["question"]["rule"] = "stored numbers are shown as they are"
    (run / "analysis.json").write_text(json.dumps(fresh))
    assert "stored numbers are shown as they are" in rerender(run, force=True).read_text()


def _snapshot(d):
    return {p.relative_to(d): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.rglob("*")) if p.is_file()}


def test_rerender_writes_beside_a_finished_run_never_inside(tmp_path, make_results, make_run):
    from harness.cli import main
    from harness_reports.report import report_dir
    from harness_reports.rundir import RunDirectoryError

    run = make_run(tmp_path / "run", make_results(seed=2))
    rerender(run, force=True)  # the run as the runner leaves it: analysis.json and report.html inside
    before = _snapshot(run)
    path = rerender(run)
    assert path == report_dir(run) / "report.html" == tmp_path.resolve() / "run-report" / "report.html"
    assert path.read_bytes() == (run / "report.html").read_bytes()  # the same report, written beside
    assert (path.parent / "leaderboard.csv").is_file()
    assert _snapshot(run) == before  # not a byte nor an mtime changed inside the run
    # again: an earlier re-rendering is replaced; the command line says where it wrote
    assert main(["report", str(run)]) == 0 and _snapshot(run) == before
    other = tmp_path / "elsewhere"
    assert main(["report", str(run), "--out", str(other)]) == 0 and (other / "report.html").is_file()
    with pytest.raises(RunDirectoryError, match="never modified"):
        rerender(run, run / "sub")
    (other / "notes.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match="other than an earlier re-rendered report"):
        rerender(run, other)
    # --force is the one way to write inside
    (run / "report.html").unlink()
    assert main(["report", str(run), "--force"]) == 0 and (run / "report.html").is_file()


def test_formatting_helpers():
    assert fmt_num(None) == fmt_num(float("nan")) == "\u2014"
    assert fmt_num(0.12345, 2) == "0.12" and fmt_signed(0.5, 1) == "+0.5"
    assert fmt_p(0.0004) == "< 0.001" and fmt_p(0.0042) == "0.0042" and fmt_p(0.5) == "0.500"
    assert fmt_p_rel(0.0004) == "< 0.001" and fmt_p_rel(0.5) == "= 0.500" and fmt_p_rel(None) == "= \u2014"
    assert (
        latex_escape("a_b & 5% #1 {x} ~ ^ \\")
        == r"a\_b \& 5\% \#1 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}"
    )


@pytest.mark.parametrize("design", [{"n_seeds": 1}, {"methods": ("bm25",)}], ids=["one-seed", "one-method"])
def test_edge_designs_render(tmp_path, make_results, make_manifest, design):
    results = make_results(**design)
    manifest = make_manifest(results)
    html = render_report(tmp_path, manifest=manifest, analysis=_analysis(results, manifest)).read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}"' in html
    head = _section(html, "headline")
    assert 'id="verdict">inconclusive<' in head
    if "n_seeds" in design:
        assert "single seed" in head
    else:
        assert "could not be answered" in head and 'id="fig-pairwise"' not in html


def test_report_shows_pairwise_over_worlds_and_for_this_world(tmp_path, make_results, make_manifest, rendered):
    results = pd.concat(
        [make_results(seed=20 + w, metrics=("ndcg@10",)).assign(world=str(w)) for w in range(3)], ignore_index=True
    )
    manifest = make_manifest(results)
    analysis = _analysis(results, manifest)
    html = render_report(tmp_path, manifest=manifest, analysis=analysis, results=results).read_text()
    pw = _section(html, "pairwise")
    assert 'id="pairwise-worlds"' in pw and "Unit of replication: the world" in pw and "(3 drawn worlds)" in pw
    assert "method-level, over worlds" in pw
    csv = pd.read_csv(tmp_path / "pairwise.csv")
    assert set(csv["unit"]) == {"worlds"} and (csv["n_worlds"] == 3).all() and csv["p_worlds"].notna().all()
    assert csv["per_world"].str.count(";").eq(2).all()
    one = _section(rendered[3], "pairwise")  # the one-world report says whose claim it is
    assert 'id="pairwise-unit"' in one and "for this world" in one and 'id="pairwise-worlds"' not in one
