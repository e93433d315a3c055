"""Determinism: randomization p-values and analysis.json are bit-identical across calls, BLAS thread counts
(1, 2, 4) and method sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from stats_world import FAST, TIERS

from harness.stats import AnalysisOptions, analyze
from harness.stats.inference import sign_flip_test
from harness.stats.streams import stream

SCRIPT = r"""
import json, sys
import numpy as np
from harness.stats.inference import sign_flip_test
from harness.stats.streams import stream
rng = np.random.default_rng(5)
# nDCG-like discrete scores: many exact ties between |T*| and |T|
diffs = [np.round(rng.normal(0.01, 0.3, size=(n, 24)) * 8) / 8 for n in (3000, 700, 41)]
res = sign_flip_test(diffs, [stream(0, "randomization", "ndcg@10", l) for l in ("a", "b", "c")], 3000)
# and whole analyses: the small world, and the default run's shape with continuous scores (sums of such
# scores depend on summation order, unlike scores on a 1/64 grid), with the REML check
import hashlib
from stats_world import FAST, TIERS, WORLD
from harness.stats import AnalysisOptions, analyze
from harness.stats.calibration import default_run_design
from harness.stats.simulate import simulate_results
table = simulate_results(WORLD, np.random.default_rng(1)).results
analysis = [analyze(table, AnalysisOptions(**FAST), tiers=TIERS).to_dict()]
design = default_run_design(seed_scale=1.0, effect=0.02, n_queries=500)
big = simulate_results(design, np.random.default_rng(2)).results
analysis.append(analyze(big, AnalysisOptions(**FAST, treatment="m1", comparator="m2", baseline="m0",
                                             reml_variance_check=True), tiers=dict(design.tiers)).to_dict())
digest = hashlib.sha256(json.dumps(analysis, sort_keys=True).encode()).hexdigest()
print(json.dumps({"exceed": res.exceed.tolist(), "pooled": res.pooled_exceed.tolist(),
                  "p": [float(x).hex() for x in res.p_value.ravel()], "analysis": digest}))
"""


def run_with_threads(n: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(n), "OMP_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n)}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout)


def test_randomization_counts_and_analysis_identical_across_thread_counts():
    one, two, four = run_with_threads(1), run_with_threads(2), run_with_threads(4)
    assert one == two == four  # sign-flip counts, p-values (bit for bit) and the sha256 of whole analysis.json files
    assert 0 < sum(map(sum, one["exceed"])) < 3 * 24 * 3000  # a real mixture of exceedances


def test_randomization_identical_across_calls_and_p_formula():
    rng = np.random.default_rng(0)
    diffs = [rng.normal(size=(50, 3)), rng.normal(size=(20, 3))]
    r1 = sign_flip_test(diffs, [stream(1, "x", i) for i in range(2)], 999)
    r2 = sign_flip_test(diffs, [stream(1, "x", i) for i in range(2)], 999)
    assert np.array_equal(r1.exceed, r2.exceed) and np.array_equal(r1.pooled_exceed, r2.pooled_exceed)
    assert np.array_equal(r1.p_value, (r1.exceed + 1) / 1000)  # p = (b + 1) / (B + 1)
    r3 = sign_flip_test(diffs, [stream(2, "x", i) for i in range(2)], 999)
    assert not np.array_equal(r1.exceed, r3.exceed)  # the seed matters


def test_randomization_matches_exact_enumeration():
    """Q = 8: all 256 sign patterns enumerated; the Monte Carlo p is within its sampling error."""
    d = np.array([0.5, 0.25, -0.125, 0.75, 0.0, 0.375, -0.25, 0.625])
    signs = np.array([[1 if (k >> i) & 1 else -1 for i in range(8)] for k in range(256)])
    exact = float((np.abs(signs @ d) >= abs(d.sum()) - 1e-12).mean())
    res = sign_flip_test([d[:, None]], [np.random.default_rng(3)], 20_000)
    assert abs(res.p_value[0, 0] - exact) < 4 * np.sqrt(exact * (1 - exact) / 20_000)


def test_analysis_is_reproducible_and_pair_streams_are_independent(world_results):
    a1 = analyze(world_results, AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    a2 = analyze(world_results, AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    assert a1 == a2
    # dropping a method changes no other pair's randomization p-value (nor any bootstrap CI of a pair)
    sub = world_results[world_results.method != "bm25"]
    a3 = analyze(sub, AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    key = ("metric", "method_a", "method_b", "language")
    full = {tuple(c[k] for k in key): c for c in a1["pairwise"]["comparisons"]}
    checked = 0
    for c in a3["pairwise"]["comparisons"]:
        f = full[tuple(c[k] for k in key)]
        assert c["p_value_randomization"] == f["p_value_randomization"]
        assert c["ci"] == f["ci"] and c["p_value"] == f["p_value"]
        checked += 1
    assert checked == 2 * 3 * 7  # metrics x pairs x (6 languages + pooled)
    # a different seed gives different draws
    a4 = analyze(world_results, AnalysisOptions(**{**FAST, "seed": 1}), tiers=TIERS).to_dict()
    assert a4["per_method_language"] != a1["per_method_language"]
