"""Positive controls end to end: the harness must see an effect that exists by construction.

* ``ot-oracle`` (OT distillation whose plan is the world's true word alignment) lifts the
  cross-lingual low tier above the zero-shot teacher, query by query.
* ``planted-effect`` (a known share of each low-tier query's true translation blended in)
  is detected by the verdict in every world drawn, at an effect at least the detectable
  difference the run's own power section states; at share 0 it scores exactly as the
  teacher (the same machinery, no effect).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.cache import Cache
from harness.config import load_config
from harness_reports import run_and_report as run_matrix

WORLD = """
name = "controls"
seeds = [0, 1, 2]
metrics = ["ndcg@10"]
device = "cpu"
[benchmark]
name = "synthetic"
seed = {world}
modes = ["cross-lingual"]
languages = {{ en = "high", h1 = "high", l1 = "low", l2 = "low" }}
n_topics = 12
n_concepts = 240
queries = 120
corpus_docs = 240
train_pairs = 400
pretrain_sentences = {{ high = 600, mid = 200, low = 120 }}
bitext_pairs = {{ high = 200, mid = 150, low = 150 }}
[model]
max_length = 32
[mini]
vocab_size = 900
layers = 2
hidden = 48
heads = 2
max_length = 32
mlm_epochs = 2
batch_size = 64
[teacher]
epochs = 2
batch_size = 32
max_length = 32
[training]
num_threads = 1
[methods.zero-shot]
{methods}
[analysis]
n_permutations = 999
n_bootstrap = 300
{question}
"""


@pytest.fixture(scope="module")
def controls_cache(tmp_path_factory) -> Cache:
    """One cache for the module's runs: world 5's data, base encoder, teachers and zero-shot cells are built
    once and serve both the ot-oracle run and the planted-effect run on world 5 (a cache hit is the same
    artefact, so every score is what a cold cache gives)."""
    return Cache(tmp_path_factory.mktemp("controls") / "cache")


def _run(tmp_path, cache: Cache, world: int, methods: str, question: str = ""):
    cfg_path = tmp_path / f"w{world}.toml"
    cfg_path.write_text(WORLD.format(world=world, methods=methods, question=question))
    return run_matrix(
        load_config(cfg_path), run_dir=tmp_path / f"run-{world}", cache=cache, progress=False, log=lambda s: None
    )


def _low_tier_query_means(res, method: str) -> pd.Series:
    df = pd.read_parquet(res.run_dir / "results.parquet")
    df = df[(df.metric == "ndcg@10") & (df.tier == "low") & (df.method == method)]
    return df.groupby(["language", "query_id"]).value.mean()  # seed-averaged, per query


@pytest.mark.slow
def test_ot_oracle_lifts_the_cross_lingual_low_tier(tmp_path, controls_cache):
    res = _run(
        tmp_path,
        controls_cache,
        5,
        '[methods.ot-oracle]\nstudent_side = "query"\nsteps = 300\nlr = 5e-4\n',
    )
    assert res.status == "complete", res.failed
    zs, oracle = _low_tier_query_means(res, "zero-shot"), _low_tier_query_means(res, "ot-oracle")
    diff = (oracle - zs.reindex(oracle.index)).to_numpy()
    assert diff.mean() > 0.02, f"ot-oracle lifts the low tier by only {diff.mean():+.4f} nDCG@10"
    assert stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("world", [5, 6, 7])
def test_planted_effect_is_detected_and_its_absence_is_not(tmp_path, controls_cache, world):
    import json

    methods = '[methods.planted-effect]\nshare = 0.2\n[methods.planted-null]\nuses = "planted-effect"\nshare = 0.0\n'
    roles = '[question]\ntreatment = "planted-effect"\ncomparator = "planted-null"\nbaseline = "zero-shot"\n'
    res = _run(tmp_path, controls_cache, world, methods, roles)
    assert res.status == "complete", res.failed
    analysis = json.loads((res.run_dir / "analysis.json").read_text())
    q = analysis["question"]
    d = q["difference"]["gap"]["estimate"]
    # the planted reduction of the gap is at least what the run says it can detect ...
    mdd = analysis["power"]["question"]["mdd"]
    assert mdd is not None and -d >= mdd, (d, mdd)
    # ... and the verdict sees it
    assert q["verdict"] == "yes", q
    # share 0 is exactly the teacher: the same scores, so nothing to detect
    zs, null = _low_tier_query_means(res, "zero-shot"), _low_tier_query_means(res, "planted-null")
    assert np.array_equal(zs.to_numpy(), null.reindex(zs.index).to_numpy())
