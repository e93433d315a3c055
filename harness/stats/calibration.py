"""Type-I error and power of the pairwise tests on simulated tables (used by tests/stats and perf/).

The design (:func:`default_run_design`) copies the variance components that the ANOVA
estimator found for nDCG@10 in the default run of 2026-12-02 (6 methods x 3 seeds x 6 languages x
1,000 queries; that config is now shipped as ``full``): query 0.0830, method x query 0.0309, seed x query 0.00370,
method x language 0.00471, seed 7.99e-6, seed x language 6.76e-6 (variances of one
per-query score).  ``seed_scale`` multiplies the two seed SDs (2.5: "heavy seed
variance", the spread at which the conditional tests' family-wise error reached 50%).
Every method has the same expected score in every language (``effect = 0``: the global null
of "no method difference"; method x query effects remain, so methods differ query by query
but not on average), or the last method is better by ``effect`` everywhere.

For every replicate and every pair of methods, per language and pooled over languages,
:func:`pairwise_rates` computes the p-values that :func:`harness.stats.analyze` computes
(through :func:`harness.stats.inference.contrast_inference`; the randomization test is
represented by the paired t over queries, to which it is equivalent at Q = 1,000, both being
conditional on the trained seeds) plus the hierarchical statistic referred to Student's t with the
Welch-Satterthwaite df that the harness used before and with ``S - 1`` df (for comparison), and Holm-adjusts each over its family (the
15 pooled comparisons; the 90 per-language comparisons), as ``analysis.correction_family =
"metric-scope"`` does.

Worlds (:func:`world_pairwise_rates`).  K drawn worlds of the same design, each method moved by
a method x world effect of SD ``method_x_world_sd`` and no method difference on average (the
null over worlds; within each world the methods do differ): the pooled tests, which hold the
worlds fixed (hierarchical, paired t over queries), against the test over worlds that decides
pairwise comparisons with K >= 2 worlds (:func:`harness.stats.pairwise.contrast_over_worlds`:
t over per-world differences, K - 1 df), each Holm-adjusted over the pooled pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from harness.stats.data import prepare
from harness.stats.inference import adjust, contrast_inference, two_sided_t_p
from harness.stats.simulate import SimulationDesign, simulate_metric, simulate_worlds

#: Variance components of nDCG@10 in the default run (ANOVA estimator, see the module docstring).
DEFAULT_RUN_COMPONENTS = {
    "query": 0.0829549,
    "method_x_query": 0.0309118,
    "seed_x_query": 0.00369833,
    "method_x_language": 0.00470608,
    "seed": 7.98901e-6,
    "seed_x_language": 6.76037e-6,
    "language": 9.97386e-5,
}
#: Tests compared: the decision tests of ``analysis.pairwise_test`` and the former hierarchical df.
TESTS = ("hierarchical", "seed", "t", "hierarchical_satterthwaite", "hierarchical_t_seed_df")
LABELS = {
    "hierarchical": "hierarchical, Behrens-Fisher type (default; method-level)",
    "seed": "t over per-seed means (method-level, for these queries)",
    "t": "paired t over queries (for these trained checkpoints; ~ randomization)",
    "hierarchical_satterthwaite": "hierarchical, Welch-Satterthwaite df (before this change)",
    "hierarchical_t_seed_df": "hierarchical statistic on Student's t with S - 1 df (valid, no power)",
}


def default_run_design(
    seed_scale: float = 2.5,
    effect: float = 0.0,
    n_queries: int = 1000,
    n_seeds: int = 3,
    n_methods: int = 6,
    n_languages: int = 6,
) -> SimulationDesign:
    """The default run's shape and components; ``seed_scale`` x the seed SDs; the last method ``+effect``.

    Method x language effects are 0: with them, the methods would differ in each language (the
    per-language null would be false).
    """
    sd = {k: float(np.sqrt(v)) for k, v in DEFAULT_RUN_COMPONENTS.items() if k != "method_x_language"}
    sd["seed"] *= seed_scale
    sd["seed_x_language"] *= seed_scale
    methods = tuple(f"m{i}" for i in range(n_methods))
    tiers = {f"l{j}": ("high" if j < n_languages // 2 else "low") for j in range(n_languages)}
    return SimulationDesign(
        methods=methods,
        tiers=tiers,
        n_queries=n_queries,
        n_seeds=n_seeds,
        sd=sd,
        mean=0.5,
        method_effects={methods[-1]: effect},
    )


@dataclass(frozen=True)
class Rates:
    """Rejection rates at ``alpha`` over ``n_rep`` replicates, per test (keys of :data:`TESTS`).

    ``raw_null`` / ``raw_effect``: share of unadjusted p < alpha among comparisons whose null
    is true / false (pairs without / with the last method); ``fwer``: share of replicates in
    which the Holm-adjusted family rejects at least one true null; ``power_holm``: share of
    false nulls rejected after Holm; ``mc_se_fwer``: Monte Carlo SE of ``fwer``, sqrt(p(1-p)/n_rep).
    """

    scope: str
    n_rep: int
    raw_null: dict[str, float]
    raw_effect: dict[str, float]
    fwer: dict[str, float]
    power_holm: dict[str, float]

    def mc_se(self, rate: float) -> float:
        return float(np.sqrt(max(rate * (1 - rate), 1e-12) / self.n_rep))


def _p_values(inf, satterthwaite: bool) -> dict[str, float]:
    out = {
        "hierarchical": float(inf.hierarchical.p[0]),
        "t": float(inf.query.p[0]),
        "seed": float(inf.seed.p[0]) if inf.seed is not None else np.nan,
    }
    if satterthwaite:
        total = float(inf.hierarchical.se[0]) ** 2
        seed_part = total - inf.query_net
        dq = float(inf.n_queries.min() - 1)
        ds = float(min(inf.n_seeds.values()) - 1)  # one group of paired seeds in these designs
        den = seed_part**2 / ds + inf.query_net**2 / dq
        df = total**2 / den if den > 0 else 1e12
        t = float(inf.hierarchical.t[0])
        out["hierarchical_satterthwaite"] = float(two_sided_t_p(np.array([t]), np.array([df]))[0])
        out["hierarchical_t_seed_df"] = float(two_sided_t_p(np.array([t]), np.array([ds]))[0])
    return out


def pairwise_rates(
    design: SimulationDesign,
    n_rep: int,
    rng: np.random.Generator,
    alpha: float = 0.05,
    scopes: tuple[str, ...] = ("pooled", "per-language"),
) -> dict[str, Rates]:
    """Rejection rates of every test of :data:`TESTS` (see the module docstring), per scope."""
    methods = design.methods
    pairs = list(combinations(methods, 2))
    groups = {m: "g" for m in methods}  # the harness pairs seed s of every method (same teacher)
    effect_on = methods[-1] if design.method_effects.get(methods[-1], 0.0) else None
    acc: dict[str, dict[str, list]] = {s: {"null": [], "alt": [], "any": [], "hit": []} for s in scopes}
    for _ in range(n_rep):
        data, _ = simulate_metric(design, "ndcg@10", rng)
        langs = data.languages
        for scope in scopes:
            contrasts = []
            for a, b in pairs:
                if scope == "pooled":
                    contrasts.append(
                        ((a, b), {(m, x): s / len(langs) for x in langs for m, s in ((a, 1.0), (b, -1.0))})
                    )
                else:
                    contrasts += [((a, b), {(a, x): 1.0, (b, x): -1.0}) for x in langs]
            ps = [_p_values(contrast_inference(data, c, groups), True) for _, c in contrasts]
            is_alt = np.array([effect_on in pair for pair, _ in contrasts])
            raw = {k: np.array([p[k] for p in ps]) for k in TESTS}
            adj = {k: adjust(v, "holm") for k, v in raw.items()}
            a = acc[scope]
            a["null"].append({k: (raw[k][~is_alt] < alpha) for k in TESTS})
            a["alt"].append({k: (raw[k][is_alt] < alpha) for k in TESTS})
            a["any"].append({k: bool((adj[k][~is_alt] < alpha).any()) for k in TESTS})
            a["hit"].append({k: (adj[k][is_alt] < alpha) for k in TESTS})
    out = {}
    for scope, a in acc.items():
        out[scope] = Rates(
            scope,
            n_rep,
            {k: _share(a["null"], k) for k in TESTS},
            {k: _share(a["alt"], k) for k in TESTS},
            {k: _share(a["any"], k) for k in TESTS},
            {k: _share(a["hit"], k) for k in TESTS},
        )
    return out


def _share(records: list[dict], test: str) -> float:
    """Mean of the booleans recorded for ``test`` over replicates (NaN when there are none)."""
    vals = np.concatenate([np.atleast_1d(r[test]) for r in records]) if records else np.array([])
    return float(vals.mean()) if vals.size else float("nan")


#: Tests compared by :func:`world_pairwise_rates`.
WORLD_TESTS = ("hierarchical", "t", "worlds")
WORLD_LABELS = {
    "hierarchical": "hierarchical over the pooled queries (worlds held fixed)",
    "t": "paired t over the pooled queries (worlds and checkpoints held fixed)",
    "worlds": "t over per-world differences, K - 1 df (the decision test with K >= 2 worlds)",
}


def world_pairwise_rates(
    design: SimulationDesign,
    n_worlds: int,
    method_x_world_sd: float,
    n_rep: int,
    rng: np.random.Generator,
    alpha: float = 0.05,
) -> Rates:
    """Rejection rates of :data:`WORLD_TESTS` for the pooled pairs of ``n_worlds`` worlds (module docstring).

    The last method is better by ``design.method_effects`` (if any) in every world; the other pairs are
    null over worlds.  With ``n_worlds = 2`` the test over worlds gives no p-value and never rejects.
    """
    from harness.stats.pairwise import contrast_over_worlds

    methods = design.methods
    pairs = list(combinations(methods, 2))
    groups = {m: "g" for m in methods}
    effect_on = methods[-1] if design.method_effects.get(methods[-1], 0.0) else None
    is_alt = np.array([effect_on in pair for pair in pairs])
    acc: dict[str, list] = {"null": [], "alt": [], "any": [], "hit": []}
    for _ in range(n_rep):
        table = simulate_worlds(design, n_worlds, {"method_x_world": method_x_world_sd}, rng).results
        data = prepare(table).metrics["ndcg@10"]
        langs = data.languages
        worlds = [(w, data.for_world(w)) for w in data.worlds]
        raw: dict[str, list[float]] = {k: [] for k in WORLD_TESTS}
        for a, b in pairs:
            c = {(m, x): s / len(langs) for x in langs for m, s in ((a, 1.0), (b, -1.0))}
            inf = contrast_inference(data, c, groups)
            ow = contrast_over_worlds(worlds, c, groups, level=1 - alpha, alpha=alpha, rng=rng)
            raw["hierarchical"].append(float(inf.hierarchical.p[0]))
            raw["t"].append(float(inf.query.p[0]))
            raw["worlds"].append(np.nan if ow.p_value is None else ow.p_value)
        arr = {k: np.array(v) for k, v in raw.items()}
        adj = {k: adjust(v, "holm") for k, v in arr.items()}
        acc["null"].append({k: (np.nan_to_num(arr[k][~is_alt], nan=1.0) < alpha) for k in WORLD_TESTS})
        acc["alt"].append({k: (np.nan_to_num(arr[k][is_alt], nan=1.0) < alpha) for k in WORLD_TESTS})
        acc["any"].append({k: bool((np.nan_to_num(adj[k][~is_alt], nan=1.0) < alpha).any()) for k in WORLD_TESTS})
        acc["hit"].append({k: (np.nan_to_num(adj[k][is_alt], nan=1.0) < alpha) for k in WORLD_TESTS})
    return Rates(
        f"pooled, {n_worlds} worlds",
        n_rep,
        {k: _share(acc["null"], k) for k in WORLD_TESTS},
        {k: _share(acc["alt"], k) for k in WORLD_TESTS},
        {k: _share(acc["any"], k) for k in WORLD_TESTS},
        {k: _share(acc["hit"], k) for k in WORLD_TESTS},
    )
