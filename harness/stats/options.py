"""Options of the statistical analysis (the ``[analysis]`` table of a config) and of the
question (the ``[question]`` table).

Every field is validated once, at construction: unknown keys and out-of-range values raise
:class:`~harness.errors.ConfigError` with the key path ``analysis.<field>`` (or
``question.<field>``), the value received and what is allowed.

The question's roles
--------------------
The headline question compares a *treatment* with a *comparator*, relative to a
*baseline*::

    [question]
    treatment = "ot-distill"      # the method whose gap reduction is asked about
    comparator = "contrastive"    # the method it is compared with
    baseline = "zero-shot"        # the reference of "gap reduction" and of the low tier's gain
    exclude_pivot = true          # default: true in cross-lingual mode, false otherwise
    [question.monolingual]        # per-mode overrides (any of the four keys)
    treatment = "ot-distill-both"

Any registered method (a third-party plugin included) may take a role.  The names used
before roles were generic, ``[analysis] ot_method / contrastive_method / baseline``, are
still accepted: a one-line note (a :class:`ConfigNote`, a ``FutureWarning``) says they
were read as ``treatment / comparator / baseline``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
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
    "treatment": "a method name (set it as question.treatment)",
    "comparator": "a method name different from treatment (set it as question.comparator)",
    "baseline": "a method name, or omit it (no baseline)",
    "exclude_pivot": "true, false, or omit it (true in cross-lingual mode, false otherwise)",
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
    treatment, comparator, baseline : str
        Methods of the question (defaults ``ot-distill``, ``contrastive``, ``zero-shot``;
        ``baseline`` may be ``None``).  Absent methods make the question degenerate (with a
        reason); the rest of the analysis still runs.  In a config they are set in the
        ``[question]`` table (:class:`QuestionOptions`); ``ot_method`` and
        ``contrastive_method`` are accepted as the old names of ``treatment`` and
        ``comparator`` with a :class:`ConfigNote`.
    exclude_pivot : bool or None
        Take the pivot language out of the tier means of the question and of ``tier_means``
        (its cells are listed under the tier ``"pivot"``).  In cross-lingual mode the pivot's
        own "cross-lingual" score is monolingual retrieval, so it would inflate the high tier
        and any gap reduction.  ``None`` (default): the runner sets it per mode, true in
        cross-lingual mode (:func:`resolve_for_mode`); :func:`~harness.stats.analyze` reads
        ``None`` as false.  Needs the pivot's name (``analyze(..., pivot=...)``).
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
        on simulated data, ``perf/bench_reml.py`` on a run directory).
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
    treatment: str = Field(default="ot-distill", min_length=1)
    comparator: str = Field(default="contrastive", min_length=1)
    baseline: str | None = Field(default="zero-shot", min_length=1)
    exclude_pivot: bool | None = None
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
        data = legacy_roles(data, "analysis")
        try:
            super().__init__(**data)
        except ValidationError as e:
            # The harness's one translation (harness.options), with this section's own wording of what is allowed.
            err = validation_to_config_error(e, type(self), "analysis")
            key = (
                err.path.split(".", 1)[1]
                if "." in err.path
                else next((k for k in ("comparator", "low_tier") if k in err.hint), "")
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
        if self.treatment == self.comparator:
            raise ValueError(f"comparator must differ from treatment ({self.treatment!r})")
        return self

    # the names before the roles were generic (read-only aliases, for code written against them)
    @property
    def ot_method(self) -> str:
        """The old name of :attr:`treatment`."""
        return self.treatment

    @property
    def contrastive_method(self) -> str:
        """The old name of :attr:`comparator`."""
        return self.comparator


class ConfigNote(FutureWarning):
    """A config was read with an old spelling (one line; the run goes on)."""


#: old ``[analysis]`` key -> role of ``[question]``
LEGACY_ROLES = {"ot_method": "treatment", "contrastive_method": "comparator"}
#: the keys of a role table (``[question]`` and each ``[question.<mode>]``)
ROLE_KEYS = ("treatment", "comparator", "baseline", "exclude_pivot")


def legacy_roles(data: Mapping[str, Any], section: str = "analysis", *, note: bool = True) -> dict[str, Any]:
    """``data`` with ``ot_method`` / ``contrastive_method`` renamed to ``treatment`` / ``comparator``.

    Emits one :class:`ConfigNote` naming what was renamed (unless ``note`` is false).  Giving
    an old name and its new name together is a :class:`~harness.errors.ConfigError`.
    """
    out = dict(data)
    renamed = []
    for old, new in LEGACY_ROLES.items():
        if old not in out:
            continue
        if new in out:
            raise ConfigError(
                f"{section}.{old}",
                out[old],
                f"either {section}.{old} (the old name) or {new}, not both",
                hint=f"remove {old}; the question's roles are set in [question] ({new} = ...)",
            )
        out[new] = out.pop(old)
        renamed.append(f"{old} -> {new}")
    if renamed and note:
        warnings.warn(
            f"[{section}] {', '.join(renamed)}: read with the question's role names; write them as "
            f"[question] {', '.join(r.split(' -> ')[1] for r in renamed)} to silence this note",
            ConfigNote,
            stacklevel=3,
        )
    return out


class QuestionRoles(BaseModel):
    """One mode's overrides of the question's roles (``[question.<mode>]``); ``None``: inherited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    treatment: str | None = Field(
        default=None, min_length=1, description="the method whose gap reduction is asked about"
    )
    comparator: str | None = Field(default=None, min_length=1, description="the method the treatment is compared with")
    baseline: str | None = Field(
        default=None, min_length=1, description="the reference of gap reduction and low-tier gain"
    )
    exclude_pivot: bool | None = Field(default=None, description="take the pivot out of the tier means")


class QuestionOptions(BaseModel):
    """The headline question's roles (the ``[question]`` table of a config).

    Attributes
    ----------
    treatment : str
        The method whose reduction of the high-minus-low gap is asked about (default
        ``ot-distill``).  Any registered method, a third-party plugin included: it gets the
        verdict and the gap-reduction column.
    comparator : str
        The method it is compared with (default ``contrastive``).
    baseline : str
        The reference of "gap reduction" and of the low tier's gain (default ``zero-shot``).
    exclude_pivot : bool or None
        Take the pivot out of the tier means; ``None`` (default): true in cross-lingual mode.
    untrained_candidate : bool
        Add the untrained teacher (budget 0 steps, the results of the config's ``zero-shot``
        method) to the dev grid of every method with checkpoint budgets, so the dev rule may
        choose "no training" (default false).  The same candidate joins every grid.
    modes : dict[str, QuestionRoles]
        Per-mode overrides, written as ``[question.<mode>]`` tables (e.g. students on both
        sides for ``monolingual``, query-side students for ``cross-lingual``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    treatment: str = Field(
        default="ot-distill", min_length=1, description="the method whose gap reduction is asked about"
    )
    comparator: str = Field(
        default="contrastive", min_length=1, description="the method the treatment is compared with"
    )
    baseline: str | None = Field(
        default="zero-shot", min_length=1, description="the reference of gap reduction and low-tier gain"
    )
    exclude_pivot: bool | None = Field(
        default=None, description="take the pivot out of the tier means (default: in cross-lingual mode)"
    )
    untrained_candidate: bool = Field(
        default=False, description="add the untrained teacher (budget 0) to every trained method's dev grid"
    )
    modes: dict[str, QuestionRoles] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _mode_tables(cls, data: Any) -> Any:
        """``[question.<mode>]`` tables arrive as keys holding tables: gather them under ``modes``."""
        if not isinstance(data, Mapping):
            return data
        out = {k: v for k, v in data.items() if not isinstance(v, Mapping) or k == "modes"}
        tables = {k: v for k, v in data.items() if isinstance(v, Mapping) and k != "modes"}
        if tables:
            out["modes"] = {**dict(out.get("modes") or {}), **tables}
        return out

    def roles(self, mode: str | None) -> dict[str, Any]:
        """The roles in ``mode`` (its overrides over the defaults), ``exclude_pivot`` resolved."""
        base = {k: getattr(self, k) for k in ROLE_KEYS}
        over = self.modes.get(mode or "") if mode else None
        if over is not None:
            base.update({k: v for k, v in over.model_dump().items() if v is not None})
        if base["exclude_pivot"] is None:
            base["exclude_pivot"] = mode == "cross-lingual"
        return base

    def table(self) -> dict[str, Any]:
        """The TOML form: the defaults, then one ``[question.<mode>]`` table per mode."""
        d = self.model_dump(mode="json", exclude={"modes"})
        for m, r in self.modes.items():
            d[m] = r.model_dump(mode="json", exclude_none=True)
        return d


def resolve_for_mode(
    analysis: Mapping[str, Any], question: Mapping[str, Any] | None, mode: str | None
) -> dict[str, Any]:
    """The analysis options of one mode, as a mapping for :class:`AnalysisOptions`.

    ``analysis``: the ``[analysis]`` table (old role names accepted); ``question``: the
    ``[question]`` table or ``None``.  The question's roles in ``mode`` (its overrides
    included) replace the analysis table's; ``exclude_pivot`` left unset becomes true in
    cross-lingual mode.  Used by the runner and by ``harness report`` on a stored run.
    """
    opts = legacy_roles(analysis, "analysis", note=False)
    if question is None:
        q = QuestionOptions(**{k: opts[k] for k in ROLE_KEYS if k in opts})
    else:
        q = QuestionOptions(**dict(question))
    return {**opts, **q.roles(mode)}
