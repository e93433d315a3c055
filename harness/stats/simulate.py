"""Simulated results tables with known variance components.

Used to validate the statistics (type-I error, coverage, recovery) and to benchmark them at
MIRACL size.  The score model is the one of :mod:`harness.stats.variance`::

    y[m,s,l,q] = mean + method_m + tier_t(l) + (method x tier)_mt + language_l
                 + (method x language)_ml + seed_s(m) + (seed x language)_sl(m)
                 + query_lq + (method x query)_mlq + (seed x query)_slq(m)

with fixed ``method``, ``tier`` and ``method x tier`` effects given in the design and every
other term drawn as N(0, sd^2).  Optionally clipped to [0, 1] and rounded to a grid (like
nDCG's discrete values, which creates ties).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.stats.data import MetricScores

#: MIRACL dev-set judged queries per language (Zhang et al., 2023, Table 2).
MIRACL_DEV_QUERIES: dict[str, int] = {
    "ar": 2896,
    "bn": 411,
    "en": 799,
    "es": 648,
    "fa": 632,
    "fi": 1271,
    "fr": 343,
    "hi": 350,
    "id": 960,
    "ja": 860,
    "ko": 213,
    "ru": 1252,
    "sw": 482,
    "te": 828,
    "th": 733,
    "zh": 393,
    "de": 305,
    "yo": 119,
}

RANDOM_TERMS = ("language", "method_x_language", "seed", "seed_x_language", "query", "method_x_query", "seed_x_query")


@dataclass(frozen=True)
class SimulationDesign:
    """A simulated experiment.

    Attributes
    ----------
    methods : tuple[str, ...]
    tiers : Mapping[str, str]
        ``language -> tier``.
    n_queries : int or Mapping[str, int]
        Queries per language.
    n_seeds : int or Mapping[str, int]
        Seeds per method (seeds are 0..n-1).
    sd : Mapping[str, float]
        Standard deviations of the random terms (:data:`RANDOM_TERMS`; absent: 0).
    mean : float
    method_effects, tier_effects : Mapping[str, float]
        Fixed effects (absent: 0).
    method_tier_effects : Mapping[tuple[str, str], float]
        Fixed (method, tier) interactions, e.g. ``{("ot-distill", "low"): 0.03}``.
    metrics : tuple[str, ...]
        Each metric gets independent draws of every random term.
    clip : bool
        Clip scores to [0, 1].
    grid : float or None
        Round scores to multiples of ``grid`` (after clipping).
    """

    methods: tuple[str, ...] = ("a", "b")
    tiers: Mapping[str, str] = field(default_factory=lambda: {"x": "high", "y": "low"})
    n_queries: int | Mapping[str, int] = 100
    n_seeds: int | Mapping[str, int] = 5
    sd: Mapping[str, float] = field(default_factory=dict)
    mean: float = 0.5
    method_effects: Mapping[str, float] = field(default_factory=dict)
    tier_effects: Mapping[str, float] = field(default_factory=dict)
    method_tier_effects: Mapping[tuple[str, str], float] = field(default_factory=dict)
    metrics: tuple[str, ...] = ("ndcg@10",)
    clip: bool = False
    grid: float | None = None

    def queries(self, language: str) -> int:
        return self.n_queries if isinstance(self.n_queries, int) else int(self.n_queries[language])

    def seeds(self, method: str) -> int:
        return self.n_seeds if isinstance(self.n_seeds, int) else int(self.n_seeds[method])


@dataclass(frozen=True)
class Simulation:
    """A simulated results table and the realised random effects.

    ``effects[metric]``: :class:`Effects` of that metric.
    """

    results: pd.DataFrame
    effects: Mapping[str, Effects]


@dataclass(frozen=True)
class Effects:
    """Realised random effects of one metric (fixed effects are in the design).

    Attributes
    ----------
    language : (L,)                     method_x_language : (M, L)
    seed : {method: (S_m,)}             seed_x_language : {method: (S_m, L)}
    query : {language: (Q_l,)}          method_x_query : {language: (M, Q_l)}
    seed_x_query : {(method, language): (S_m, Q_l)}
    """

    language: np.ndarray
    method_x_language: np.ndarray
    seed: Mapping[str, np.ndarray]
    seed_x_language: Mapping[str, np.ndarray]
    query: Mapping[str, np.ndarray]
    method_x_query: Mapping[str, np.ndarray]
    seed_x_query: Mapping[tuple[str, str], np.ndarray]


def simulate_metric(design: SimulationDesign, metric: str, rng: np.random.Generator) -> tuple[MetricScores, Effects]:
    """Draw the aligned scores of one metric (no DataFrame: fast enough for thousands of replicates)."""
    sd = {k: float(design.sd.get(k, 0.0)) for k in RANDOM_TERMS}
    unknown = set(design.sd) - set(RANDOM_TERMS)
    if unknown:
        raise ValueError(f"unknown random terms {sorted(unknown)}; allowed: {', '.join(RANDOM_TERMS)}")
    langs = sorted(design.tiers)
    methods = list(design.methods)
    n_l, n_m = len(langs), len(methods)
    lang_eff = rng.normal(0, sd["language"], n_l)
    ml_eff = rng.normal(0, sd["method_x_language"], (n_m, n_l))
    seed_eff = {m: rng.normal(0, sd["seed"], design.seeds(m)) for m in methods}
    sl_eff = {m: rng.normal(0, sd["seed_x_language"], (design.seeds(m), n_l)) for m in methods}
    q_eff, mq_eff, sq_eff, scores = {}, {}, {}, {}
    for j, lang in enumerate(langs):
        tier = design.tiers[lang]
        n_q = design.queries(lang)
        q_eff[lang] = rng.normal(0, sd["query"], n_q)
        mq_eff[lang] = rng.normal(0, sd["method_x_query"], (n_m, n_q))
        for i, m in enumerate(methods):
            sq = rng.normal(0, sd["seed_x_query"], (design.seeds(m), n_q))
            sq_eff[(m, lang)] = sq
            base = (
                design.mean
                + design.method_effects.get(m, 0.0)
                + design.tier_effects.get(tier, 0.0)
                + design.method_tier_effects.get((m, tier), 0.0)
                + lang_eff[j]
                + ml_eff[i, j]
            )
            run = seed_eff[m] + sl_eff[m][:, j]  # (S_m,)
            y = base + run[:, None] + q_eff[lang][None, :] + mq_eff[lang][i][None, :] + sq  # (S_m, Q)
            if design.clip:
                y = np.clip(y, 0.0, 1.0)
            if design.grid:
                y = np.round(y / design.grid) * design.grid
            scores[(m, lang)] = y
    data = MetricScores(
        metric,
        tuple(methods),
        tuple(langs),
        {lang: design.tiers[lang] for lang in langs},
        {m: tuple(range(design.seeds(m))) for m in methods},
        {lang: tuple(f"{lang}-q{k:05d}" for k in range(design.queries(lang))) for lang in langs},
        scores,
    )
    return data, Effects(lang_eff, ml_eff, seed_eff, sl_eff, q_eff, mq_eff, sq_eff)


def to_frame(data: MetricScores) -> pd.DataFrame:
    """The long results table of aligned scores."""
    frames = []
    for lang in data.languages:
        qids = np.array(data.query_ids[lang], dtype=object)
        for m in data.methods:
            y = data.scores[(m, lang)]
            frames.append(
                pd.DataFrame(
                    {
                        "method": m,
                        "seed": np.repeat(np.array(data.seeds[m], dtype=np.int64), len(qids)),
                        "language": lang,
                        "tier": data.tiers[lang],
                        "query_id": np.tile(qids, y.shape[0]),
                        "metric": data.metric,
                        "value": y.ravel(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def simulate_results(design: SimulationDesign, rng: np.random.Generator) -> Simulation:
    """Draw a results table (columns ``method, seed, language, tier, query_id, metric, value``)."""
    effects = {}
    frames = []
    for metric in design.metrics:
        data, effects[metric] = simulate_metric(design, metric, rng)
        frames.append(to_frame(data))
    return Simulation(pd.concat(frames, ignore_index=True), effects)


def miracl_sized_design(
    methods: tuple[str, ...] = ("bm25", "zero-shot", "ot-distill", "contrastive", "translate-test", "translate-train"),
    n_seeds: int = 5,
    metrics: tuple[str, ...] = ("ndcg@10", "recall@100"),
    low: tuple[str, ...] = ("sw", "yo", "te", "bn", "hi", "th"),
) -> SimulationDesign:
    """18 languages with MIRACL dev query counts, plausible nDCG-like components (clipped, on a grid)."""
    tiers = {lang: ("low" if lang in low else "high") for lang in MIRACL_DEV_QUERIES}
    return SimulationDesign(
        methods=methods,
        tiers=tiers,
        n_queries=dict(MIRACL_DEV_QUERIES),
        n_seeds=n_seeds,
        sd={
            "language": 0.05,
            "method_x_language": 0.03,
            "seed": 0.01,
            "seed_x_language": 0.01,
            "query": 0.25,
            "method_x_query": 0.12,
            "seed_x_query": 0.08,
        },
        mean=0.42,
        method_effects={m: 0.02 * i for i, m in enumerate(methods)},
        tier_effects={"low": -0.08},
        metrics=metrics,
        clip=True,
        grid=1 / 64,
    )


def realised_components(design: SimulationDesign, effects: Effects) -> dict[str, float]:
    """The variance components as realised in one balanced simulation (same seeds for all methods).

    Fixed effects: their finite-population variance in the ANOVA's convention (``method``:
    ddof 1; ``tier``: ``sum_t n_t (tau_t - tau_w)^2 / ((T - 1) n0)``).  Random effects: their
    sample variance with the degrees of freedom of the matching ANOVA source (e.g.
    ``language``: pooled within-tier variance, ``L - T`` df); query-level terms averaged
    over languages.  This is what :func:`harness.stats.variance.decompose` should recover,
    up to the sampling noise that leaks between levels.
    """
    methods = list(design.methods)
    langs = sorted(design.tiers)
    n_m, n_l = len(methods), len(langs)
    n_s = design.seeds(methods[0])
    if any(design.seeds(m) != n_s for m in methods):
        raise ValueError("realised_components needs the same number of seeds for every method")
    tier_names = sorted(set(design.tiers.values()))
    ti = np.array([tier_names.index(design.tiers[lang]) for lang in langs])
    n_t = len(tier_names)
    sizes = np.bincount(ti, minlength=n_t)
    out: dict[str, float] = {}
    out["method"] = float(np.var([design.method_effects.get(m, 0.0) for m in methods], ddof=1))
    if n_t > 1:
        n0 = (n_l - (sizes**2).sum() / n_l) / (n_t - 1)
        tau = np.array([design.tier_effects.get(t, 0.0) for t in tier_names])
        out["tier"] = float((sizes * (tau - (sizes * tau).sum() / n_l) ** 2).sum() / ((n_t - 1) * n0))
    lam = effects.language
    centred = lam - np.array([lam[ti == t].mean() for t in range(n_t)])[ti]
    out["language"] = float((centred**2).sum() / (n_l - n_t))

    def double_centred_ms(a: np.ndarray) -> float:  # (R, C) -> interaction mean square
        r = a - a.mean(axis=0) - a.mean(axis=1, keepdims=True) + a.mean()
        return float((r**2).sum() / ((a.shape[0] - 1) * (a.shape[1] - 1)))

    out["method_x_language"] = double_centred_ms(effects.method_x_language)
    seeds = np.stack([effects.seed[m] for m in methods])  # (M, S)
    out["seed"] = float(((seeds - seeds.mean(axis=1, keepdims=True)) ** 2).sum() / (n_m * (n_s - 1)))
    out["seed_x_language"] = float(np.mean([double_centred_ms(effects.seed_x_language[m]) for m in methods]))
    out["query"] = float(np.mean([effects.query[lang].var(ddof=1) for lang in langs]))
    out["residual"] = float(
        np.mean(
            [
                double_centred_ms(effects.method_x_query[lang])
                + np.mean([double_centred_ms(effects.seed_x_query[(m, lang)]) for m in methods])
                for lang in langs
            ]
        )
    )
    return out


def nominal_components(design: SimulationDesign) -> dict[str, float]:
    """The design's components: ``sd^2`` of random terms, fixed effects as in :func:`realised_components`."""
    methods = list(design.methods)
    langs = sorted(design.tiers)
    sd2 = {k: float(design.sd.get(k, 0.0)) ** 2 for k in RANDOM_TERMS}
    out = {"method": float(np.var([design.method_effects.get(m, 0.0) for m in methods], ddof=1))}
    tier_names = sorted(set(design.tiers.values()))
    if len(tier_names) > 1:
        ti = np.array([tier_names.index(design.tiers[lang]) for lang in langs])
        sizes = np.bincount(ti, minlength=len(tier_names))
        n_l = len(langs)
        n0 = (n_l - (sizes**2).sum() / n_l) / (len(tier_names) - 1)
        tau = np.array([design.tier_effects.get(t, 0.0) for t in tier_names])
        out["tier"] = float((sizes * (tau - (sizes * tau).sum() / n_l) ** 2).sum() / ((len(tier_names) - 1) * n0))
    for k in ("language", "method_x_language", "seed", "seed_x_language", "query"):
        out[k] = sd2[k]
    out["residual"] = sd2["method_x_query"] + sd2["seed_x_query"]
    return out


# --------------------------------------------------------------------------- worlds
#: World-level random terms of :func:`simulate_worlds`.
WORLD_TERMS = ("world", "method_x_world", "method_x_tier_x_world")


@dataclass(frozen=True)
class WorldSimulation:
    """A simulated results table over several worlds and the realised world effects.

    ``world[w]``: the world's offset (every score of the world); ``method_x_world[w]``: ``(M,)``
    offsets of each method in that world; ``method_x_tier_x_world[w]``: ``{(method, tier): offset}``
    (it moves a method's high-low gap from world to world, i.e. the question's D); ``worlds``: the
    per-world :class:`Simulation` before them.
    """

    results: pd.DataFrame
    world: Mapping[str, float]
    method_x_world: Mapping[str, np.ndarray]
    method_x_tier_x_world: Mapping[str, Mapping[tuple[str, str], float]]
    worlds: Mapping[str, Simulation]


def simulate_worlds(
    design: SimulationDesign, n_worlds: int, world_sd: Mapping[str, float], rng: np.random.Generator
) -> WorldSimulation:
    """Draw ``n_worlds`` worlds, each a whole experiment of ``design`` (every random term of
    :data:`RANDOM_TERMS` drawn anew: its languages, seeds and queries), plus world terms::

        y[w,m,s,l,q] = y_w[m,s,l,q] + world_w + (method x world)_mw + (method x tier x world)_mtw

    with ``world_sd`` giving the SDs of :data:`WORLD_TERMS` (absent: 0).  The table has a first
    column ``world`` (``"0"``, ``"1"``, ...); query ids repeat across worlds, as a drawn world's do.
    """
    unknown = set(world_sd) - set(WORLD_TERMS)
    if unknown:
        raise ValueError(f"unknown world terms {sorted(unknown)}; allowed: {', '.join(WORLD_TERMS)}")
    if design.clip or design.grid:
        raise ValueError("simulate_worlds adds world terms after drawing: use a design without clip/grid")
    methods = list(design.methods)
    frames, w_eff, mw_eff, mtw_eff, sims = [], {}, {}, {}, {}
    tiers = sorted(set(design.tiers.values()))
    for k in range(n_worlds):
        label = str(k)
        sim = simulate_results(design, rng)
        w_eff[label] = float(rng.normal(0, world_sd.get("world", 0.0)))
        mw_eff[label] = rng.normal(0, world_sd.get("method_x_world", 0.0), len(methods))
        mtw = rng.normal(0, world_sd.get("method_x_tier_x_world", 0.0), (len(methods), len(tiers)))
        mtw_eff[label] = {(m, t): float(mtw[i, j]) for i, m in enumerate(methods) for j, t in enumerate(tiers)}
        r = sim.results
        shift = (
            r["method"].map(dict(zip(methods, mw_eff[label]))).to_numpy()
            + w_eff[label]
            + np.array([mtw_eff[label][(m, t)] for m, t in zip(r["method"], r["tier"])])
        )
        df = sim.results.assign(value=sim.results["value"].to_numpy() + shift)
        df.insert(0, "world", pd.Series([label] * len(df), dtype="string"))
        frames.append(df)
        sims[label] = sim
    return WorldSimulation(pd.concat(frames, ignore_index=True), w_eff, mw_eff, mtw_eff, sims)
