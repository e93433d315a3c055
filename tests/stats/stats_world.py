"""Simulated designs shared by the statistics tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from harness.stats.simulate import SimulationDesign

TIERS = {"de": "high", "en": "high", "fr": "high", "sw": "low", "te": "low", "yo": "low"}

#: A small world in which OT distillation lifts the low tier more than contrastive alignment.
WORLD = SimulationDesign(
    methods=("zero-shot", "ot-distill", "contrastive", "bm25"),
    tiers=TIERS,
    n_queries=120,
    n_seeds=4,
    sd={
        "language": 0.03,
        "method_x_language": 0.01,
        "seed": 0.01,
        "seed_x_language": 0.008,
        "query": 0.25,
        "method_x_query": 0.08,
        "seed_x_query": 0.05,
    },
    mean=0.45,
    tier_effects={"low": -0.15},
    method_tier_effects={("ot-distill", "low"): 0.10, ("contrastive", "low"): 0.02},
    metrics=("ndcg@10", "recall@100"),
    clip=True,
    grid=1 / 64,
)

#: Fast options for end-to-end tests.
#: the verdict tests check the rule on the fixed-language interval (languages as a sample: test_stats_worlds.py)
FAST = {"n_permutations": 999, "n_bootstrap": 400, "language_scope": "fixed"}
