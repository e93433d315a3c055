"""Options of the statistical analysis (the ``[analysis]`` table of a config).

Every field is validated once, at construction: unknown keys and out-of-range values raise
:class:`~harness.errors.ConfigError` with the key path ``analysis.<field>``, the value
received and what is allowed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ConfigError
from harness.options import validation_to_config_error

#: What each field allows, in words (used in error messages).
ALLOWED: dict[str, str] = {
    "primary_metric": "a metric name present in the results table, e.g. 'ndcg@10'",
    "metrics": "a non-empty list of distinct metric names, or omit it for every metric in the table",
    "methods": "a non-empty list of distinct method names, or omit it for every method in the table",
    "languages": "a non-empty list of distinct language codes, or omit it for every language in the table",
    "alpha": "a number with 0 < alpha < 0.5",
    "ci_level": "a number with 0.5 < ci_level < 1",
    "n_permutations": "an integer >= 99 (10,000 recommended; p-values are multiples of 1/(n_permutations+1))",
    "n_bootstrap": "an integer >= 100 (2,000 recommended)",
    "correction": "'holm' or 'fdr_bh'",
    "correction_family": "'metric-scope', 'metric' or 'all'",
    "pairwise_test": "'hierarchical' (method-level, default), 'seed' (method-level, for these queries), 't' or "
    "'randomization' (for these trained checkpoints)",
    "seed": "a non-negative integer",
    "seed_pairing": "'auto', 'paired' or 'independent'",
    "nan_policy": "'raise' or 'drop_queries'",
    "ot_method": "a method name",
    "contrastive_method": "a method name different from ot_method",
    "baseline": "a method name, or omit it (no baseline)",
    "high_tier": "a tier name",
    "low_tier": "a tier name different from high_tier",
    "question_endpoint": "'gap' or 'dispersion'",
    "target_difference": "a number > 0 (in metric units, e.g. 0.02 nDCG@10)",
    "power": "a number with 0 < power < 1",
    "max_seeds": "an integer with 2 <= max_seeds <= 100000",
    "fit_mixedlm": "true or false",
    "reml_variance_check": "true or false",
}


class AnalysisOptions(BaseModel):
    """Options of :func:`harness.stats.analyze`.

    Attributes
    ----------
    primary_metric : str
        Metric of the question and of the power analysis (default ``"ndcg@10"``).
    metrics : tuple[str, ...] or None
        Metrics to analyse; ``None``: every metric in the table.  A metric named here (or
        ``primary_metric``) that is absent from the table is a
        :class:`~harness.errors.StatisticsError`.
    methods, languages : tuple[str, ...] or None
        Restrict the analysis to these methods / languages; ``None``: all in the table.
        A name that is absent is a :class:`~harness.errors.StatisticsError`.
    alpha : float
        Significance level of every test (default 0.05).
    ci_level : float
        Confidence level of every interval (default 0.95).
    n_permutations : int
        Random sign flips B of each randomization test; p = (b + 1) / (B + 1) with b the
        number of flips at least as extreme as the observed statistic (default 10,000).
    n_bootstrap : int
        Replicates of every hierarchical bootstrap (default 2,000).
    correction : {"holm", "fdr_bh"}
        Multiple-comparison adjustment over each family (statsmodels ``multipletests``).
    correction_family : {"metric-scope", "metric", "all"}
        The declared family: per metric and scope (per-language comparisons form one family,
        comparisons pooled over languages another; default), per metric, or all at once.
    pairwise_test : {"hierarchical", "seed", "t", "randomization"}
        The test whose adjusted p-value decides ``significant`` and "k of N languages" in
        pairwise entries (all four p-values are reported and adjusted).  Method-level
        claims: ``hierarchical`` (default; seed and query variance, df of the seed part) and
        ``seed`` (t over per-seed means, for these queries).  Claims about *these trained
        checkpoints* (conditional on the seeds; they over-reject for methods when seed
        variance is material): ``t`` and ``randomization`` (query-level tests on
        seed-averaged scores).
    seed : int
        Seed of every numpy ``Generator`` (each comparison derives its own stream from it
        and its identity, so adding a method does not change another pair's p-value).
    seed_pairing : {"auto", "paired", "independent"}
        Whether seed ``s`` of two methods is a matched pair (the harness trains every method
        of seed ``s`` from the same teacher(s)).  ``auto``: paired when both methods have
        the same seed set; ``paired``: require identical seed sets; ``independent``: never.
    nan_policy : {"raise", "drop_queries"}
        NaN scores or queries missing for some (method, seed): raise a
        :class:`~harness.errors.StatisticsError` (default), or drop those queries of that
        language and metric for every method and seed (reported in ``warnings``).
    ot_method, contrastive_method, baseline : str
        Methods of the question (defaults ``ot-distill``, ``contrastive``, ``zero-shot``;
        ``baseline`` may be ``None``).  Absent methods make the question degenerate (with a
        reason); the rest of the analysis still runs.
    high_tier, low_tier : str
        Tier names compared by the question's high-minus-low gap.
    question_endpoint : {"gap", "dispersion"}
        Primary endpoint of the verdict: the high-minus-low tier gap (default) or the
        cross-language SD of per-language means.
    target_difference : float
        Smallest difference worth detecting, in metric units: the power analysis reports the
        seeds it needs, and it is the margin of the question's ``no`` verdict.
    power : float
        Target power 1 - beta of the power analysis (default 0.8).
    max_seeds : int
        Upper bound of the search for the number of seeds needed (default 200).
    language_scope : {"sample", "fixed"}
        ``"sample"`` (default): with one world and >= 3 languages in each tier of the question, the
        verdict is decided on the "languages like these" interval (languages resampled within their
        tier); ``"fixed"``: on the "for these languages" interval (both are reported either way; with
        two or more worlds the world-level interval decides).  See :mod:`harness.stats.worlds`.
    fit_mixedlm : bool
        Fit the statsmodels MixedLM of the question's method x tier interaction (default true).
    reml_variance_check : bool
        Also fit a dense REML model (crossed random effects, scipy; :mod:`harness.stats.reml`)
        to the run-level means as a cross-check of the ANOVA variance components and write it
        to ``variance_components[].reml_check`` (default false; the tests check the two agree
        on simulated data, ``benchmarks/bench_reml.py`` on a run directory).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_metric: str = Field(default="ndcg@10", min_length=1)
    metrics: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    ci_level: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_permutations: int = Field(default=10_000, ge=99)
    n_bootstrap: int = Field(default=2_000, ge=100)
    correction: Literal["holm", "fdr_bh"] = "holm"
    correction_family: Literal["metric-scope", "metric", "all"] = "metric-scope"
    pairwise_test: Literal["hierarchical", "seed", "t", "randomization"] = "hierarchical"
    seed: int = Field(default=0, ge=0)
    seed_pairing: Literal["auto", "paired", "independent"] = "auto"
    nan_policy: Literal["raise", "drop_queries"] = "raise"
    ot_method: str = Field(default="ot-distill", min_length=1)
    contrastive_method: str = Field(default="contrastive", min_length=1)
    baseline: str | None = Field(default="zero-shot", min_length=1)
    high_tier: str = Field(default="high", min_length=1)
    low_tier: str = Field(default="low", min_length=1)
    question_endpoint: Literal["gap", "dispersion"] = "gap"
    target_difference: float = Field(default=0.02, gt=0.0)
    power: float = Field(default=0.8, gt=0.0, lt=1.0)
    max_seeds: int = Field(default=200, ge=2, le=100_000)
    fit_mixedlm: bool = True
    reml_variance_check: bool = False
    language_scope: Literal["sample", "fixed"] = "sample"

    def __init__(self, **data: Any) -> None:
        if "mixedlm_variance_check" in data:  # the former name (configs stored before schema 2 carry it)
            legacy = data.pop("mixedlm_variance_check")
            data.setdefault("reml_variance_check", legacy)
        try:
            super().__init__(**data)
        except ValidationError as e:
            # The harness's one translation (harness.options), with this section's own wording of what is allowed.
            err = validation_to_config_error(e, type(self), "analysis")
            key = (
                err.path.split(".", 1)[1]
                if "." in err.path
                else next((k for k in ("contrastive_method", "low_tier") if k in err.hint), "")
            )  # model-level checks name it
            if key in ALLOWED:
                err = ConfigError(f"analysis.{key}", data.get(key, err.value), ALLOWED[key], hint=err.hint)
            raise err from e

    @field_validator("metrics", "methods", "languages")
    @classmethod
    def _names(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("the list is empty; omit the key to use every name in the results table")
        if any(not isinstance(x, str) or not x for x in v):
            raise ValueError("every entry must be a non-empty string")
        if len(set(v)) != len(v):
            raise ValueError("entries must be distinct")
        return tuple(v)

    @model_validator(mode="after")
    def _distinct(self) -> AnalysisOptions:
        if self.high_tier == self.low_tier:
            raise ValueError(f"low_tier must differ from high_tier ({self.high_tier!r})")
        if self.ot_method == self.contrastive_method:
            raise ValueError(f"contrastive_method must differ from ot_method ({self.ot_method!r})")
        return self
