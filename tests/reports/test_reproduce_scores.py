"""`harness reproduce`: the score-by-score check and its errors (the full re-run is in test_report_browser.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness_reports.reproduce import GPU_TOLERANCE, ReproduceResult, compare_scores, default_tolerance, reproduce_run
from harness_reports.rundir import RunDirectoryError


def test_identical_tables_reproduce(sim_results):
    c = compare_scores(sim_results, sim_results.sample(frac=1.0, random_state=0), 0.0)  # row order is irrelevant
    assert c.identical and c.n_differ == 0 and c.max_abs_diff == 0.0
    assert c.n_rows == len(sim_results)


def test_tiny_difference_fails_exact_check_and_names_the_cell(sim_results):
    new = sim_results.copy()
    i = new.index[(new.method == "ot-distill") & (new.seed == 1) & (new.language == "sw") & (new.metric == "ndcg@10")][
        3
    ]
    new.loc[i, "value"] += 1e-12
    exact = compare_scores(sim_results, new, 0.0)
    assert not exact.identical and exact.n_differ == 1
    (cell,) = exact.cells
    assert (cell.method, cell.seed, cell.language) == ("ot-distill", 1, "sw")
    assert cell.worst_query == new.loc[i, "query_id"] and cell.worst_metric == "ndcg@10"
    assert cell.max_abs_diff == pytest.approx(1e-12, rel=1e-3)
    assert "ot-distill seed=1 sw: 1 of" in cell.describe()
    assert compare_scores(sim_results, new, 1e-9).identical


def test_missing_rows_and_nans(sim_results):
    new = sim_results.drop(index=sim_results.index[:2]).copy()
    first = sim_results.iloc[0]
    c = compare_scores(sim_results, new, 0.0)
    assert not c.identical and c.max_abs_diff == np.inf
    (cell,) = c.cells
    assert cell.n_missing_new == 2 and cell.n_missing_original == 0
    assert (cell.method, cell.seed, cell.language) == (first.method, int(first.seed), first.language)

    a, b = sim_results.copy(), sim_results.copy()
    a.loc[a.index[5], "value"] = np.nan
    b.loc[b.index[5], "value"] = np.nan
    assert compare_scores(a, b, 0.0).identical  # NaN == NaN
    b.loc[b.index[5], "value"] = 0.5
    assert not compare_scores(a, b, 1.0).identical  # NaN against a number never matches


def test_tolerance_defaults_and_validation(sim_results):
    assert default_tolerance("cpu", "cpu") == 0.0
    assert default_tolerance("cpu", "cuda") == GPU_TOLERANCE == 1e-3
    with pytest.raises(ValueError, match="tolerance"):
        compare_scores(sim_results, sim_results, -1.0)
    with pytest.raises(ValueError, match="lacks columns"):
        compare_scores(sim_results.drop(columns="query_id"), sim_results, 0.0)


def test_summary_names_cells(sim_results, tmp_path):
    new = sim_results.copy()
    new.loc[new.index[(new.method == "bm25") & (new.language == "yo")], "value"] += 0.01
    res = ReproduceResult(
        original_dir=tmp_path / "a",
        new_dir=tmp_path / "b",
        tolerance=0.0,
        device_original="cpu",
        device_new="cpu",
        comparison=compare_scores(sim_results, new, 0.0),
    )
    text = res.summary()
    assert not res.identical and "NOT REPRODUCED" in text
    assert "bm25 seed=0 yo" in text and "bm25 seed=1 yo" in text and "exactly equal" in text
    assert json.loads(json.dumps(res.to_dict()))["cells"][0]["method"] == "bm25"
    ok = ReproduceResult(tmp_path / "a", tmp_path / "b", 0.0, "cpu", "cpu", compare_scores(sim_results, sim_results))
    assert ok.identical and ok.summary().splitlines()[1].startswith("REPRODUCED")


def test_reproduce_missing_directory(tmp_path):
    with pytest.raises(RunDirectoryError, match="does not exist"):
        reproduce_run(tmp_path / "nope")


def test_summary_lists_config_changes(sim_results, tmp_path):
    from harness_reports.rundir import config_differences

    changes = config_differences(
        {"seeds": [0, 1], "output": {"dir": "a"}, "analysis": {"alpha": 0.05}},
        {"seeds": [0, 1], "output": {"dir": "b"}, "analysis": {"alpha": 0.05, "new": True}},
    )
    assert changes == [{"key": "analysis.new", "a": "(absent)", "b": "true"}]
    res = ReproduceResult(
        tmp_path / "a",
        tmp_path / "b",
        0.0,
        "cpu",
        "cpu",
        compare_scores(sim_results, sim_results),
        config_changes=("analysis.new: (absent) -> true",),
    )
    assert res.identical and "analysis.new: (absent) -> true" in res.summary()
    assert res.to_dict()["config_changes"] == ["analysis.new: (absent) -> true"]


def test_thread_counts_of_the_original_machine_are_checked_before_rerunning():
    """``training.num_threads = 0`` / ``mini.threads = 0`` mean that machine's cores: another count is refused."""
    from types import SimpleNamespace

    from harness.training import usable_cpus
    from harness_reports.reproduce import _check_threads

    here = usable_cpus()
    config = SimpleNamespace(
        training=SimpleNamespace(num_threads=1), mini=SimpleNamespace(threads=0)
    )  # the two fields read
    _check_threads({"torch_threads": 1, "base_threads": here}, config)  # same counts: no error
    with pytest.raises(RunDirectoryError, match=r"mini base encoder with \d+ torch thread\(s\) \(mini.threads = 0"):
        _check_threads({"torch_threads": 1, "base_threads": here + 1}, config)
    pinned = SimpleNamespace(training=SimpleNamespace(num_threads=1), mini=SimpleNamespace(threads=2))
    _check_threads({"torch_threads": 1, "base_threads": 2}, pinned)  # pinned: the same on any machine
    with pytest.raises(RunDirectoryError, match="training.num_threads = 0"):
        _check_threads({"torch_threads": here + 1}, SimpleNamespace(training=SimpleNamespace(num_threads=0), mini=None))


# ------------------------------------------------------------- the numerics environment of a reproduction
def _numerics(capability: str, **env: str) -> dict:
    from harness.numerics import KERNEL_ENV, numerics_summary

    rec = {
        "cpu": {"machine": "x86_64", "model": "AMD EPYC", "vendor": "AuthenticAMD", "isa_flags": ["avx2", "avx512f"]},
        "torch": {"version": "2.13.0", "cpu_capability": capability, "blas": "mkl", "mkl": "2024.2", "threads": 2},
        "numpy": {"version": "2.0", "blas": "scipy-openblas 0.3.31"},
        "env": {k: env.get(k) for k in KERNEL_ENV},
        "gpu": None,
    }
    return {**rec, "summary": numerics_summary(rec)}


def _analysis(verdict: str, d: float) -> dict:
    return {"question": {"verdict": verdict, "endpoint": "gap", "difference": {"gap": {"estimate": d}}}}


def test_reproduce_names_the_numerics_environment_and_whether_the_verdict_holds(
    sim_results, tmp_path, make_run, monkeypatch
):
    """The re-run (stubbed: its scores and environment are given) ran with torch's kernels capped at AVX2."""
    import harness.runner
    from harness.config import load_config

    run = make_run(tmp_path / "run", sim_results, numerics=_numerics("AVX512"))
    (run / "config.toml").write_text(load_config("smoke").to_toml())
    (run / "analysis.json").write_text(json.dumps(_analysis("yes", 0.0223)))

    def rerun(config, *, run_dir, cache, render):
        new = sim_results.copy()
        new.loc[new.index[new.method == "ot-distill"], "value"] += 1e-7
        make_run(run_dir, new, numerics=_numerics("AVX2", ATEN_CPU_CAPABILITY="avx2", MKL_CBWR="AVX2"))
        (run_dir / "analysis.json").write_text(json.dumps(_analysis(verdict, 0.0212)))
        return SimpleNamespace(failed=[])

    from types import SimpleNamespace

    monkeypatch.setattr(harness.runner, "run_matrix", rerun)
    verdict = "yes"
    res = reproduce_run(run, out_dir=tmp_path / "again", cache_dir=tmp_path / "cache")
    text = res.summary()
    assert not res.identical and "NOT REPRODUCED" in text
    assert "CPU capability AVX512" in res.numerics_original and "CPU capability AVX2" in res.numerics_new
    fields = {k: (a, b) for k, a, b in res.numerics_changes}
    assert fields == {
        "torch.cpu_capability": ("AVX512", "AVX2"),
        "env.ATEN_CPU_CAPABILITY": (None, "avx2"),
        "env.MKL_CBWR": (None, "AVX2"),
    }
    assert 'torch.cpu_capability: "AVX512" -> "AVX2"' in text and "env.ATEN_CPU_CAPABILITY: unset -> " in text
    assert res.verdict_holds is True and "verdict holds: 'yes' in both runs (D +0.0223 -> +0.0212)" in text
    saved = json.loads((tmp_path / "again" / "reproduce.json").read_text())
    assert saved["verdict_holds"] is True and len(saved["numerics_changes"]) == 3
    # the verdict changes: said so
    verdict = "inconclusive"
    res = reproduce_run(run, out_dir=tmp_path / "again2", cache_dir=tmp_path / "cache")
    assert res.verdict_holds is False and "verdict CHANGED: 'yes' -> 'inconclusive'" in res.summary()
    # an earlier reproduction is never overwritten
    with pytest.raises(RunDirectoryError, match="already exists and is not empty"):
        reproduce_run(run, out_dir=tmp_path / "again", cache_dir=tmp_path / "cache")


def test_numerics_record_of_this_process():
    from harness.numerics import numerics_differences, numerics_environment

    env = numerics_environment()
    import torch

    assert env["torch"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert env["summary"].startswith("CPU ") and env["torch"]["cpu_capability"] in env["summary"]
    assert numerics_differences(env, env) == []
    assert numerics_differences(None, env) == [("numerics", "not recorded", "recorded")]
    json.dumps(env)  # plain JSON data for the manifest
