"""Variance decomposition of per-query scores.

Model of the score of query ``q`` of language ``l`` under method ``m`` and seed ``s``::

    y[m,s,l,q] = mu + method_m + tier_t(l) + language_l + (method x language)_ml
                 + seed_s(m) + (seed x language)_sl(m)
                 + query_lq + (method x query)_mlq + (seed x query)_slq(m)

every term random with variance sigma2_<term>; ``residual = method x query + seed x query``.
The components are reported as variances of a single per-query score and as shares of
their sum.

Estimation (no query-level crossed mixed model: it does not scale to MIRACL's tens of
thousands of queries).

* **Run level**: an ANOVA (expected-mean-squares, "method of moments") estimator on the
  per-(method, seed, language) means ``Y[m,s,l]`` of a balanced design (every method the
  same number of seeds ``S``; methods with fewer seeds are left out of the decomposition,
  methods with more contribute their first ``S``).  Sources and expected mean squares
  (``M`` methods, ``L`` languages in ``T`` tiers, ``n0 = (L - sum_t n_t^2 / L)/(T - 1)``)::

      seed x language (residual)  E = e
      seed within method          E = e + L s
      method x language           E = e + S ml
      language within tier        E = e + S ml + M S lang
      tier                        E = e + S ml + M S lang + M S n0 tier
      method                      E = e + L s + S ml + S L method

  solved bottom-up.  For balanced data and interior solutions this equals REML: a dense
  REML fit of the run-level means (:mod:`harness.stats.reml`, scipy) is reported next to it
  as a cross-check (``reml_check``; ``analysis.reml_variance_check``, on by default), the
  tests check that fit against statsmodels MixedLM where MixedLM converges, and the sums of
  squares against statsmodels' OLS ANOVA.  statsmodels' MixedLM is not used at run time: it
  does not converge on the default run (see :mod:`harness.stats.reml`).
* **Query level**, per language, on the ``(M, S, Q_l)`` scores: query (``E = e' + S mq +
  M S query``), method x query (``E = e' + S mq``), seed x query (``E = e'``), averaged
  over languages.
* The run-level means carry query-sampling noise (``query/Q_l`` into language,
  ``method x query/Q_l`` into method x language, ``seed x query/Q_l`` into seed x
  language); it is subtracted (averaged over languages).
* Negative estimates are truncated at 0 (flagged ``truncated``).  A component whose source
  has no degrees of freedom (one seed, one method, one language, one tier) is not
  estimable: reported as ``None`` with the component that absorbs it.
* **Uncertainty**: parametric bootstrap of the mean squares under normal theory
  (``MS* = MS * chi2_df / df``, independent sources), recomputing every component and share;
  percentile intervals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from harness.stats.data import MetricScores
from harness.stats.reml import RemlCheck, reml_fit

#: Run-level sources, bottom-up: (component, {component: coefficient name}).
RUN_SOURCES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("seed_x_language", (("seed_x_language", "1"),)),
    ("seed", (("seed_x_language", "1"), ("seed", "L"))),
    ("method_x_language", (("seed_x_language", "1"), ("method_x_language", "S"))),
    ("language", (("seed_x_language", "1"), ("method_x_language", "S"), ("language", "MS"))),
    ("tier", (("seed_x_language", "1"), ("method_x_language", "S"), ("language", "MS"), ("tier", "MSn0"))),
    ("method", (("seed_x_language", "1"), ("seed", "L"), ("method_x_language", "S"), ("method", "SL"))),
)
QUERY_SOURCES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("seed_x_query", (("seed_x_query", "1"),)),
    ("method_x_query", (("seed_x_query", "1"), ("method_x_query", "S"))),
    ("query", (("seed_x_query", "1"), ("method_x_query", "S"), ("query", "MS"))),
)
#: Query-level component -> the run-level component its sampling noise leaks into.
LEAKS = {"query": "language", "method_x_query": "method_x_language", "seed_x_query": "seed_x_language"}
#: Reported components, in order, with their meaning.
DESCRIPTIONS = {
    "method": "differences between methods (averaged over languages and seeds)",
    "tier": "differences between resource tiers",
    "language": "differences between languages within a tier",
    "method_x_language": "method effects that differ by language",
    "seed": "training seed within method (shared by all languages of a run)",
    "seed_x_language": "seed effects that differ by language (run-level residual)",
    "query": "query difficulty within language",
    "residual": "query-level interactions: method x query + seed x query",
}
REPORTED = tuple(DESCRIPTIONS)


@dataclass(frozen=True)
class Component:
    """One variance component of a single per-query score.

    ``variance``/``share`` are None when the component is not estimable (then
    ``absorbed_into`` names the component that contains it); intervals are percentile
    intervals of the parametric bootstrap.
    """

    name: str
    description: str
    variance: float | None
    share: float | None
    ci_variance: tuple[float, float] | None
    ci_share: tuple[float, float] | None
    df: int
    truncated: bool
    absorbed_into: str | None
    parts: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class VarianceDecomposition:
    metric: str
    estimator: str
    methods: tuple[str, ...]
    excluded_methods: tuple[str, ...]
    n_seeds: int
    languages: tuple[str, ...]
    tiers: Mapping[str, tuple[str, ...]]
    total: float | None
    components: tuple[Component, ...]
    mean_squares: tuple[Mapping[str, float | int | str], ...]
    reml_check: RemlCheck | None
    degenerate: bool
    reason: str | None
    notes: tuple[str, ...]


def balanced_design(data: MetricScores) -> tuple[list[str], int, list[str], list[str]]:
    """Methods and seed count of the largest balanced sub-design.

    Chooses the seed count ``S`` maximising (methods with at least ``S`` seeds) x ``S``
    (ties: the larger ``S``).  Returns (kept methods, S, excluded methods, notes).
    """
    counts = {m: len(data.seeds[m]) for m in data.methods}
    best = max(sorted(set(counts.values())), key=lambda s: (sum(c >= s for c in counts.values()) * s, s))
    kept = [m for m in data.methods if counts[m] >= best]
    excluded = [m for m in data.methods if counts[m] < best]
    notes = []
    if excluded:
        notes.append(f"methods {excluded} have fewer than {best} seeds and are left out of the decomposition")
    trimmed = [m for m in kept if counts[m] > best]
    if trimmed:
        notes.append(f"methods {trimmed} have more than {best} seeds; their first {best} seeds are used")
    return kept, best, excluded, notes


def _solve(sources, ms: Mapping[str, np.ndarray], dfs: Mapping[str, int], coef: Mapping[str, float]):
    """Solve the expected-mean-square equations bottom-up (vectorised over leading axes).

    Returns (raw component estimates, absorbed_into) where a component of a source without
    degrees of freedom is 0 in ``raw`` and maps to the next source whose expectation contains it.
    """
    raw: dict[str, np.ndarray] = {}
    absorbed: dict[str, str | None] = {}
    for name, ems in sources:
        if dfs[name] <= 0:
            raw[name] = np.zeros_like(next(iter(ms.values())))
            absorbed[name] = None
            continue
        own = coef[dict(ems)[name]]
        other = sum((coef[c] * raw[comp] for comp, c in ems if comp != name), np.zeros_like(ms[name]))
        raw[name] = (ms[name] - other) / own
        absorbed[name] = None
    for name, _ in sources:
        if dfs[name] <= 0:
            absorbed[name] = next((src for src, ems in sources if dfs[src] > 0 and name in dict(ems)), None)
    return raw, absorbed


def _resolve(name: str, absorbed: Mapping[str, str | None], dfs: Mapping[str, int]) -> str | None:
    current: str | None = name
    while current is not None and dfs.get(current, 1) <= 0:
        current = absorbed.get(current)
    return current


def run_level_mean_squares(y: np.ndarray, tier_index: np.ndarray) -> tuple[dict[str, float], dict[str, int]]:
    """Mean squares and df of the run-level ANOVA on ``y`` ``(M, S, L)``; ``tier_index`` ``(L,)``."""
    n_m, n_s, n_l = y.shape
    n_t = int(tier_index.max()) + 1
    g = y.mean()
    ym = y.mean(axis=(1, 2))  # (M,)
    yl = y.mean(axis=(0, 1))  # (L,)
    yml = y.mean(axis=1)  # (M, L)
    yms = y.mean(axis=2)  # (M, S)
    tier_means = np.array([yl[tier_index == t].mean() for t in range(n_t)])
    yt = tier_means[tier_index]  # (L,)
    ss = {
        "method": n_s * n_l * ((ym - g) ** 2).sum(),
        "tier": n_m * n_s * ((yt - g) ** 2).sum(),
        "language": n_m * n_s * ((yl - yt) ** 2).sum(),
        "method_x_language": n_s * ((yml - ym[:, None] - yl[None, :] + g) ** 2).sum(),
        "seed": n_l * ((yms - ym[:, None]) ** 2).sum(),
        "seed_x_language": ((y - yms[:, :, None] - yml[:, None, :] + ym[:, None, None]) ** 2).sum(),
    }
    df = {
        "method": n_m - 1,
        "tier": n_t - 1,
        "language": n_l - n_t,
        "method_x_language": (n_m - 1) * (n_l - 1),
        "seed": n_m * (n_s - 1),
        "seed_x_language": n_m * (n_s - 1) * (n_l - 1),
    }
    return {k: (ss[k] / df[k] if df[k] > 0 else 0.0) for k in ss}, df


def query_level_mean_squares(x: np.ndarray) -> tuple[dict[str, float], dict[str, int]]:
    """Mean squares and df of the query-level ANOVA of one language, ``x`` ``(M, S, Q)``."""
    n_m, n_s, n_q = x.shape
    g = x.mean()
    xm = x.mean(axis=(1, 2))
    xq = x.mean(axis=(0, 1))
    xms = x.mean(axis=2)
    xmq = x.mean(axis=1)
    ss = {
        "query": n_m * n_s * ((xq - g) ** 2).sum(),
        "method_x_query": n_s * ((xmq - xm[:, None] - xq[None, :] + g) ** 2).sum(),
        "seed_x_query": ((x - xms[:, :, None] - xmq[:, None, :] + xm[:, None, None]) ** 2).sum(),
    }
    df = {"query": n_q - 1, "method_x_query": (n_m - 1) * (n_q - 1), "seed_x_query": n_m * (n_s - 1) * (n_q - 1)}
    return {k: (ss[k] / df[k] if df[k] > 0 else 0.0) for k in ss}, df


def _components(run_ms, run_df, q_ms, q_df, coef_run, coef_q, n_queries):
    """Net components (dict of arrays over the leading axis) and absorption maps.

    ``run_ms[k]``: (B,) ; ``q_ms[k]``: (B, L) ; ``n_queries``: (L,).
    """
    raw_run, abs_run = _solve(RUN_SOURCES, run_ms, run_df, coef_run)
    raw_q, abs_q = _solve(QUERY_SOURCES, q_ms, q_df, coef_q)
    net = dict(raw_run)
    for qc, target in LEAKS.items():
        if q_df[qc] <= 0:
            continue  # its noise is inside the component that absorbed it, which leaks itself
        dest = _resolve(target, abs_run, run_df)
        if dest is not None:
            net[dest] = net[dest] - (raw_q[qc] / n_queries).mean(axis=-1)
    q_mean = {k: v.mean(axis=-1) for k, v in raw_q.items()}
    return net, abs_run, q_mean, abs_q


def decompose(
    data: MetricScores, rng: np.random.Generator, n_draws: int = 2000, level: float = 0.95, reml: bool = True
) -> VarianceDecomposition:
    """Variance components of ``data`` (see the module docstring).

    ``rng`` drives the parametric bootstrap of the mean squares (``n_draws`` draws);
    ``reml``: also fit the dense REML cross-check (:mod:`harness.stats.reml`).
    """
    methods, n_s, excluded, notes = balanced_design(data)
    langs = list(data.languages)
    tier_names = sorted({data.tiers[lang] for lang in langs})
    tier_index = np.array([tier_names.index(data.tiers[lang]) for lang in langs])
    n_m, n_l, n_t = len(methods), len(langs), len(tier_names)
    sizes = np.bincount(tier_index, minlength=n_t)
    n0 = (n_l - (sizes**2).sum() / n_l) / (n_t - 1) if n_t > 1 else 1.0
    y = np.stack([data.run_means(m)[:n_s] for m in methods])  # (M, S, L)
    run_ms, run_df = run_level_mean_squares(y, tier_index)
    n_q = np.array([data.n_queries(lang) for lang in langs], dtype=np.float64)
    per_lang = [query_level_mean_squares(np.stack([data.scores[(m, lang)][:n_s] for m in methods])) for lang in langs]
    q_df = {k: min(p[1][k] for p in per_lang) for k in per_lang[0][1]}
    q_ms = {k: np.array([p[0][k] for p in per_lang]) for k in per_lang[0][0]}
    coef_run = {
        "1": 1.0,
        "L": float(n_l),
        "S": float(n_s),
        "MS": float(n_m * n_s),
        "MSn0": float(n_m * n_s * n0),
        "SL": float(n_s * n_l),
    }
    coef_q = {"1": 1.0, "S": float(n_s), "MS": float(n_m * n_s)}

    point_run = {k: np.array([v]) for k, v in run_ms.items()}
    point_q = {k: v[None, :] for k, v in q_ms.items()}
    net, abs_run, q_mean, abs_q = _components(point_run, run_df, point_q, q_df, coef_run, coef_q, n_q)

    # parametric bootstrap of the mean squares
    draws_run = {
        k: (run_ms[k] * rng.chisquare(run_df[k], n_draws) / run_df[k]) if run_df[k] > 0 else np.zeros(n_draws)
        for k in run_ms
    }
    draws_q = {}
    for k in q_ms:
        dfl = np.array([p[1][k] for p in per_lang], dtype=np.float64)
        if q_df[k] > 0:
            draws_q[k] = q_ms[k][None, :] * rng.chisquare(dfl[None, :].repeat(n_draws, 0)) / dfl[None, :]
        else:
            draws_q[k] = np.zeros((n_draws, n_l))
    b_net, _, b_q_mean, _ = _components(draws_run, run_df, draws_q, q_df, coef_run, coef_q, n_q)

    def assemble(net_, qm_):
        vals = {name: np.maximum(net_[name], 0.0) for name, _ in RUN_SOURCES}
        vals["query"] = np.maximum(qm_["query"], 0.0)
        vals["residual"] = np.maximum(qm_["method_x_query"], 0.0) + np.maximum(qm_["seed_x_query"], 0.0)
        return vals

    point = assemble(net, q_mean)
    boot = assemble(b_net, b_q_mean)
    estimable = {name: run_df[name] > 0 for name, _ in RUN_SOURCES}
    estimable["query"] = q_df["query"] > 0
    estimable["residual"] = True
    total = float(sum(point[k][0] for k in REPORTED if estimable[k]))
    boot_total = sum(boot[k] for k in REPORTED if estimable[k])
    a = (1.0 - level) / 2.0
    degenerate = not total > 0
    reason = "constant scores: every variance component is 0, shares are undefined" if degenerate else None
    comps = []
    raw_point = {**{k: net[k][0] for k, _ in RUN_SOURCES}, "query": q_mean["query"][0]}
    for name in REPORTED:
        dfn = (
            int(run_df.get(name, q_df.get(name, 0)))
            if name != "residual"
            else int(q_df["method_x_query"] + q_df["seed_x_query"])
        )
        if not estimable[name]:
            comps.append(
                Component(
                    name,
                    DESCRIPTIONS[name],
                    None,
                    None,
                    None,
                    None,
                    0,
                    False,
                    abs_run.get(name) if name in abs_run else abs_q.get(name),
                )
            )
            continue
        v = float(point[name][0])
        ci_v = tuple(float(x) for x in np.quantile(boot[name], [a, 1 - a]))
        if degenerate:
            share, ci_s = None, None
        else:
            share = v / total
            with np.errstate(divide="ignore", invalid="ignore"):
                sh = np.where(boot_total > 0, boot[name] / np.where(boot_total > 0, boot_total, 1.0), 0.0)
            ci_s = tuple(float(x) for x in np.quantile(sh, [a, 1 - a]))
        parts = {}
        if name == "residual":
            parts = {
                "method_x_query": float(max(q_mean["method_x_query"][0], 0.0)) if q_df["method_x_query"] > 0 else None,
                "seed_x_query": float(max(q_mean["seed_x_query"][0], 0.0)) if q_df["seed_x_query"] > 0 else None,
            }
        truncated = name in raw_point and raw_point[name] < 0
        comps.append(
            Component(
                name,
                DESCRIPTIONS[name],
                v,
                share,
                ci_v,  # type: ignore[arg-type]  # a (low, high) pair built as a tuple
                ci_s,  # type: ignore[arg-type]
                dfn,
                bool(truncated),
                None,
                parts,
            )
        )
    for c in comps:
        if c.variance is None and c.absorbed_into:
            notes.append(
                f"{c.name} is not estimable (its source has no degrees of freedom); it is contained in "
                f"{c.absorbed_into}"
            )
        if c.truncated:
            notes.append(f"{c.name}: the moment estimate was negative and is reported as 0")
    for k in ("seed_x_query", "method_x_query"):
        if q_df[k] <= 0 and abs_q.get(k):
            notes.append(f"{k} is not estimable; it is contained in {abs_q[k]} (part of residual or query)")
    mean_squares = tuple(
        {"source": k, "level": "run", "df": int(run_df[k]), "mean_square": float(run_ms[k])} for k, _ in RUN_SOURCES
    ) + tuple(
        {
            "source": k,
            "level": "query (mean over languages)",
            "df": int(sum(p[1][k] for p in per_lang)),
            "mean_square": float(q_ms[k].mean()),
        }
        for k, _ in QUERY_SOURCES
    )
    check = None
    if reml and n_m >= 2 and n_l >= 2:
        check = reml_check(y, run_ms, run_df)
    return VarianceDecomposition(
        data.metric,
        "ANOVA expected mean squares on per-(method, seed, language) means (balanced design) + "
        "per-language query-level ANOVA; parametric bootstrap of mean squares for intervals",
        tuple(methods),
        tuple(excluded),
        n_s,
        tuple(langs),
        {t: tuple(lang for lang in langs if data.tiers[lang] == t) for t in tier_names},
        None if degenerate else total,
        tuple(comps),
        mean_squares,  # type: ignore[arg-type]
        check,
        degenerate,
        reason,
        tuple(notes),
    )


def anova_run_components(
    run_ms: Mapping[str, float], run_df: Mapping[str, int], n_m: int, n_s: int, n_l: int
) -> dict[str, float]:
    """ANOVA estimates of the run-level model of :mod:`harness.stats.reml` (language includes the tier;
    query noise not subtracted), from the run-level mean squares."""
    ss_l = run_ms["tier"] * run_df["tier"] + run_ms["language"] * run_df["language"]
    ms_l = ss_l / (n_l - 1)
    e = run_ms["seed_x_language"] if run_df["seed_x_language"] > 0 else 0.0
    ml = (run_ms["method_x_language"] - e) / n_s
    anova = {
        "method": (run_ms["method"] - run_ms["method_x_language"] - (run_ms["seed"] if n_s > 1 else e) + e)
        / (n_s * n_l),
        "language": (ms_l - run_ms["method_x_language"]) / (n_m * n_s),
        "method_x_language": ml if n_s > 1 else run_ms["method_x_language"],
    }
    if n_s > 1:
        anova["seed"] = (run_ms["seed"] - e) / n_l
        anova["seed_x_language"] = e
    return anova


def reml_check(y: np.ndarray, run_ms: Mapping[str, float], run_df: Mapping[str, int]) -> RemlCheck:
    """Dense REML fit of the run-level means ``y`` ``(M, S, L)`` next to the ANOVA (:mod:`harness.stats.reml`)."""
    n_m, n_s, n_l = y.shape
    anova = anova_run_components(run_ms, run_df, n_m, n_s, n_l)
    try:
        return reml_fit(y, anova)
    except (np.linalg.LinAlgError, ValueError) as err:
        return RemlCheck(
            "dense REML on run-level means",
            False,
            {},
            anova,
            float("nan"),
            float("nan"),
            float("nan"),
            (),
            error=f"{type(err).__name__}: {err}",
        )


# --------------------------------------------------------------------------- worlds
#: World-level sources of per-run means, bottom-up: (component, {component: coefficient}).
WORLD_DESCRIPTIONS = {
    "world": "benchmark instance (drawn world, with its base encoder and languages), shared by every method",
    "method_x_world": "method effects that differ by world",
    "seed_within_world": "training seed within a world (its teacher), shared by every method",
    "residual": "method x seed within world, with the run mean's query noise",
}


@dataclass(frozen=True)
class WorldComponents:
    """Variance components of the per-(world, method, seed) overall means (mean over languages and queries).

    Balanced mixed ANOVA with ``M`` methods (fixed), ``K`` worlds (random), ``S`` seeds within
    each world (random, crossed with methods: a seed's teacher serves every method)::

        Y[w,m,s] = mu + method_m + world_w + (method x world)_mw + seed_s(w) + e_wms

        residual            E = e                              df (M-1) K (S-1)
        seed within world   E = e + M seed                     df K (S-1)
        method x world      E = e + S mw                       df (M-1)(K-1)
        world               E = e + M seed + S mw + M S world  df K-1

    solved bottom-up, negative estimates truncated at 0 (``truncated``); intervals: parametric
    bootstrap of the mean squares (``MS* = MS chi2_df / df``), percentiles.  The components are
    variances of one run's mean score; ``seed_share_within_world`` is what seeds add within a world
    relative to the world component (the measurement behind the default config's sizes).
    """

    metric: str
    methods: tuple[str, ...]
    n_worlds: int
    n_seeds: int
    components: tuple[Component, ...]
    mean_squares: Mapping[str, float]
    dfs: Mapping[str, int]
    seed_to_world_ratio: float | None
    degenerate: bool
    reason: str | None


def world_mean_squares(y: np.ndarray) -> tuple[dict[str, float], dict[str, int]]:
    """Mean squares of a balanced ``(K, M, S)`` table of run means (see :class:`WorldComponents`)."""
    k, m, s = y.shape
    g = y.mean()
    w = y.mean(axis=(1, 2))  # (K,)
    mt = y.mean(axis=(0, 2))  # (M,)
    wm = y.mean(axis=2)  # (K, M)
    ws = y.mean(axis=1)  # (K, S)
    ss = {
        "world": m * s * ((w - g) ** 2).sum(),
        "method_x_world": s * ((wm - w[:, None] - mt[None, :] + g) ** 2).sum(),
        "seed_within_world": m * ((ws - w[:, None]) ** 2).sum(),
        "residual": ((y - wm[:, :, None] - ws[:, None, :] + w[:, None, None]) ** 2).sum(),
    }
    df = {
        "world": k - 1,
        "method_x_world": (m - 1) * (k - 1),
        "seed_within_world": k * (s - 1),
        "residual": (m - 1) * k * (s - 1),
    }
    ms = {key: float(ss[key] / df[key]) if df[key] > 0 else float("nan") for key in ss}
    return ms, df


def _world_solve(ms: Mapping[str, np.ndarray], m: int, s: int) -> dict[str, np.ndarray]:
    e = ms["residual"] if s > 1 else np.zeros_like(ms["world"])
    seed = (ms["seed_within_world"] - e) / m if s > 1 else np.zeros_like(e)
    mw = (ms["method_x_world"] - e) / s
    world = (ms["world"] - ms["method_x_world"] - (ms["seed_within_world"] if s > 1 else 0.0) + e) / (m * s)
    return {"world": world, "method_x_world": mw, "seed_within_world": seed, "residual": e}


def world_components(data: MetricScores, rng: np.random.Generator, n_boot: int, level: float) -> WorldComponents:
    """:class:`WorldComponents` of ``data`` (two or more worlds; methods with the most common seed count)."""
    methods, n_s, _, _ = balanced_design(data)
    k = data.n_worlds
    empty = WorldComponents(data.metric, tuple(methods), k, n_s, (), {}, {}, None, True, None)
    if k < 2 or len(methods) < 2:
        return dataclasses.replace(empty, reason="needs >= 2 worlds and >= 2 methods")
    y = np.empty((k, len(methods), n_s))
    for i, w in enumerate(data.worlds):
        for j, m in enumerate(methods):
            per_lang = [
                data.scores[(m, lang)][:n_s, data.world_columns(lang, w)].mean(axis=1) for lang in data.languages
            ]
            y[i, j] = np.mean(per_lang, axis=0)
    ms, df = world_mean_squares(y)
    est = {
        key: float(v) for key, v in _world_solve({k_: np.array(v) for k_, v in ms.items()}, len(methods), n_s).items()
    }
    a = (1 - level) / 2
    draws = {
        key: (ms[key] * rng.chisquare(df[key], n_boot) / df[key]) if df[key] > 0 else np.zeros(n_boot) for key in ms
    }
    boot = _world_solve(draws, len(methods), n_s)
    total = sum(max(v, 0.0) for v in est.values())
    btotal = sum(np.maximum(v, 0.0) for v in boot.values())
    comps = []
    for key, desc in WORLD_DESCRIPTIONS.items():
        v = est[key]
        b = np.maximum(boot[key], 0.0)
        estimable = df[key] > 0 or key == "world"
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.where(btotal > 0, b / np.where(btotal > 0, btotal, 1.0), 0.0)
        comps.append(
            Component(
                key,
                desc,
                max(v, 0.0) if estimable else None,
                (max(v, 0.0) / total if total > 0 else 0.0) if estimable else None,
                (float(np.quantile(b, a)), float(np.quantile(b, 1 - a))) if estimable else None,
                (float(np.quantile(shares, a)), float(np.quantile(shares, 1 - a))) if estimable else None,
                int(df[key]),
                v < 0,
                None if estimable else "residual",
            )
        )
    seed_v, world_v = max(est["seed_within_world"], 0.0), max(est["world"], 0.0)
    ratio = seed_v / world_v if world_v > 0 else None
    return WorldComponents(
        data.metric,
        tuple(methods),
        k,
        n_s,
        tuple(comps),
        {key: float(v) for key, v in ms.items() if df[key] > 0},  # a mean square without df is not estimable
        df,
        ratio,
        False,
        None if n_s > 1 else "one seed per world: seed within world is not separable from the residual (both 0 here)",
    )
