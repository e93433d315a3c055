"""One run, both evaluation modes: each cell trains once and is evaluated monolingually and cross-lingually.

Results, dev results and budget curves carry the mode; the protocol and the question run per mode
(``analysis.json["by_mode"]``); the report and the terminal summary show one verdict per mode.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from tiny_config import TINY

from harness.cache import Cache
from harness.config import load_config
from harness.errors import ConfigError
from harness.index import read_cache_log
from harness_reports import run_and_report

MODES = ["monolingual", "cross-lingual"]
EXTRA = """
[methods.language-centring]
[methods.ot-distill]
epochs = 1
batch_size = 16
eval_at = [0.5]
student_side = "query"
[methods.contrastive]
epochs = 1
batch_size = 16
eval_at = [0.5]
"""


def two_mode_toml(extra: str = EXTRA) -> str:
    return TINY.format(extra=extra).replace(
        'name = "synthetic"\n', f'name = "synthetic"\nmodes = {MODES!r}\n'.replace("'", '"')
    )


@pytest.fixture(scope="module")
def two_mode_run(tmp_path_factory):
    from harness_methods.contrastive import Contrastive
    from harness_methods.ot_distill import OTDistill

    fits: list[tuple[str, int]] = []
    root = tmp_path_factory.mktemp("modes")
    cfg = root / "modes.toml"
    cfg.write_text(two_mode_toml())
    with pytest.MonkeyPatch.context() as mp:  # count every fit (the executor is in-process)
        for cls in (OTDistill, Contrastive):
            original = cls.fit

            def counted(self, ctx, _original=original):
                fits.append((ctx.method, ctx.seed))
                return _original(self, ctx)

            mp.setattr(cls, "fit", counted)
        cache = Cache(root / "cache")
        res = run_and_report(load_config(cfg), run_dir=root / "run", cache=cache, progress=False, log=lambda s: None)
    return res, fits, cache


def test_each_cell_trains_once_and_is_evaluated_in_both_modes(two_mode_run):
    res, fits, _ = two_mode_run
    assert res.status == "complete", [f.error for f in res.failed]
    assert sorted(fits) == sorted((m, s) for m in ("ot-distill", "contrastive") for s in (0, 1))  # once per cell
    d = res.run_dir
    df = pd.read_parquet(d / "results.parquet")
    assert list(df.columns) == ["world", "method", "seed", "mode", "language", "tier", "query_id", "metric", "value"]
    counts = df.groupby(["method", "seed", "mode", "language"]).query_id.nunique()
    assert set(counts.index.get_level_values("mode")) == set(MODES)
    assert (counts == 40).all() and len(counts) == 5 * 2 * 2 * 4  # methods x seeds x modes x languages
    cross = df[df["mode"] == "cross-lingual"]
    assert all(q.startswith(f"{lang}-xq") for lang, q in zip(cross.language, cross.query_id))
    assert not set(cross.query_id) & set(df[df["mode"] == "monolingual"].query_id)
    for name in ("dev_results.parquet", "budgets.parquet"):
        assert set(pd.read_parquet(d / name)["mode"]) == set(MODES), name
    budgets = pd.read_parquet(d / "budgets.parquet")
    # one checkpoint and the final budget per trained cell, each scored in both modes
    per_cell = budgets.groupby(["method", "seed", "mode"]).budget_steps.nunique()
    assert (per_cell == 2).all() and len(per_cell) == 2 * 2 * 2
    fps = json.loads((d / "manifest.json").read_text())["dataset_fingerprints"]
    assert fps["by_mode"]["monolingual"] == fps["languages"] != fps["by_mode"]["cross-lingual"]
    assert (d / "runs" / "zero-shot" / "0" / "cross-lingual" / "l1.trec").is_file()
    assert (d / "qrels" / "cross-lingual" / "l1.qrels").is_file() and (
        d / "qrels" / "monolingual" / "l1.qrels"
    ).is_file()


def test_checkpoint_encodes_each_corpus_once_across_modes(two_mode_run):
    _, _, cache = two_mode_run
    private = [
        e for e in read_cache_log(cache.root) if e["stage"] == "docindex" and str(e["key"]).startswith("private")
    ]
    # contrastive (a student on both sides): 2 seeds x 1 checkpoint, each over the 4 corpora once (cross-lingual:
    # the pivot's, shared with the monolingual pivot); ot-distill's query-side checkpoints search the teacher's index
    assert len(private) == 2 * 1 * 4


def test_analysis_answers_the_question_per_mode(two_mode_run):
    res, _, _ = two_mode_run
    a = json.loads((res.run_dir / "analysis.json").read_text())
    assert a["modes"] == MODES and list(a["by_mode"]) == MODES and a["mode"] == "monolingual"
    assert a["question"] == a["by_mode"]["monolingual"]["question"]  # the top level is the primary mode
    for mode in MODES:
        m = a["by_mode"][mode]
        assert m["mode"] == mode and m["question"]["verdict"] in ("yes", "no", "inconclusive")
        assert m["protocol"]["tuned_on"] == "dev"
        assert {t["method"] for t in m["tier_means"]} >= {"language-centring", "ot-distill", "contrastive"}
    mono, cross = (a["by_mode"][m]["question"]["difference"]["gap"]["estimate"] for m in MODES)
    assert mono != cross  # two questions, not one answer copied


def test_report_and_terminal_show_one_verdict_per_mode(two_mode_run):
    from harness_reports.terminal import print_summary

    res, _, _ = two_mode_run
    html = (res.run_dir / "report.html").read_text()
    assert 'id="by-mode"' in html
    for mode in MODES:
        assert f'class="headline mode-verdict" data-mode="{mode}"' in html
        assert f'id="tier-table-{mode}"' in html
    section = html[html.index('id="by-mode"') : html.index('id="protocol"')]
    assert section.count("language-centring") >= 2  # the control beside the compared methods, in each mode
    out = io.StringIO()
    print_summary(json.loads((res.run_dir / "analysis.json").read_text()), file=out)
    text = out.getvalue()
    assert text.count("Verdict:") == 2 and "Mode: monolingual" in text and "Mode: cross-lingual" in text


def test_rerendering_recomputes_both_modes(two_mode_run, tmp_path):
    import shutil

    from harness_reports.report import rerender

    res, _, _ = two_mode_run
    copy = tmp_path / "copy"
    shutil.copytree(res.run_dir, copy)
    (copy / "analysis.json").unlink()
    rerender(copy, force=True)
    a = json.loads((copy / "analysis.json").read_text())
    assert list(a["by_mode"]) == MODES and "language-centring" in (copy / "report.html").read_text()


def test_mode_options_validate(tmp_path):
    from harness.benchmarks.synthetic_options import SyntheticOptions

    assert SyntheticOptions.from_mapping({}).evaluation_modes == ("monolingual",)
    old = SyntheticOptions.from_mapping({"mode": "cross-lingual"})  # the one-mode spelling keeps working
    assert old.evaluation_modes == ("cross-lingual",) and "modes" not in old.model_dump()  # dump as before modes
    two = SyntheticOptions.from_mapping({"modes": ["cross-lingual", "monolingual"]})
    assert two.mode == "cross-lingual"  # mode names the primary (first) mode
    assert SyntheticOptions.from_mapping(two.model_dump()).evaluation_modes == ("cross-lingual", "monolingual")
    with pytest.raises(ConfigError, match="benchmark.mode"):
        SyntheticOptions.from_mapping({"mode": "monolingual", "modes": ["cross-lingual"]})
    with pytest.raises(ConfigError, match="each mode at most once"):
        SyntheticOptions.from_mapping({"modes": ["monolingual", "monolingual"]})
    with pytest.raises(ConfigError, match="benchmark.modes"):
        SyntheticOptions.from_mapping({"modes": []})
    with pytest.raises(ConfigError, match="benchmark.modes"):
        SyntheticOptions.from_mapping({"modes": ["bilingual"]})
    cfg = tmp_path / "c.toml"
    cfg.write_text(two_mode_toml(""))
    c = load_config(cfg)
    import tomllib

    bench = tomllib.loads(c.to_toml())["benchmark"]
    assert bench["modes"] == MODES and bench["mode"] == MODES[0]
    (tmp_path / "normalised.toml").write_text(c.to_toml())
    assert load_config(tmp_path / "normalised.toml").sha256() == c.sha256()  # the normalised config re-loads


def test_cell_keys_name_the_modes(tmp_path):
    from harness.engine import Engine

    keys = {}
    for name, text in {
        "one": TINY.format(extra=""),
        "old": TINY.format(extra="").replace('name = "synthetic"\n', 'name = "synthetic"\nmode = "monolingual"\n'),
        "two": two_mode_toml(""),
    }.items():
        (tmp_path / f"{name}.toml").write_text(text)
        eng = Engine(load_config(tmp_path / f"{name}.toml"), Cache(tmp_path / "cache"), device="cpu")
        keys[name] = eng.cell_key("zero-shot", 0)
        if name == "two":
            run_keys = {m: eng.run_key("zero-shot", 0, "l1", "test", m) for m in MODES}
            assert run_keys["monolingual"] != run_keys["cross-lingual"]
    assert keys["one"] == keys["old"]  # a one-mode config keeps its cached cells
    assert keys["two"] != keys["one"]


def test_compare_and_reproduce_keep_modes_apart(two_mode_run, tmp_path):
    import shutil

    from harness_reports.compare import build_comparison
    from harness_reports.reproduce import compare_scores

    res, _, _ = two_mode_run
    twin = shutil.copytree(res.run_dir, tmp_path / "twin")  # compare refuses a run compared with itself
    cmp = build_comparison(res.run_dir, twin)
    assert {"monolingual/l1", "cross-lingual/l1"} <= set(cmp.languages)
    df = pd.read_parquet(res.run_dir / "results.parquet")
    assert compare_scores(df, df).identical
    moved = df.copy()
    moved.loc[(moved["mode"] == "cross-lingual") & (moved.index % 7 == 0), "value"] += 0.5
    assert compare_scores(df, moved).n_differ == int(((df["mode"] == "cross-lingual") & (df.index % 7 == 0)).sum())
