"""Statistics of a results table: variance components, pairwise tests, the question, power.

Usage::

    from harness.stats import AnalysisOptions, analyze
    options = AnalysisOptions(**config["analysis"])      # ConfigError on bad values
    analysis = analyze(results_df, options, tiers={"en": "high", "sw": "low"})
    json.dump(analysis.to_dict(), f)                        # analysis.json

Everything is a pure function of the table and ``options.seed``: the random streams are
derived per purpose and identity (:mod:`harness.stats.streams`), randomization counts are
integers compared with a relative tolerance, and the bootstrap's weighted sums avoid BLAS,
so ``analysis.json`` is identical across calls and byte-identical across BLAS thread counts
(tests/stats checks a whole ``analysis.json`` with 1, 2 and 4 threads).  Floats are written with 12 significant
digits; no NaN or infinity is ever written (``null`` plus a ``reason``/``degenerate``
field, or an entry in ``warnings``).

Input: ``results.parquet`` in long format, one row per (method, seed, language, query,
metric): ``method`` str, ``seed`` int, ``language`` str, ``tier`` str, ``query_id`` str,
``metric`` str, ``value`` float.

Conventions used below: ``CI`` = ``[lo, hi]`` at ``options.ci_level`` (95%), from the
*hierarchical bootstrap* (queries resampled within language, shared by methods and seeds;
seeds resampled per method or per group of paired methods, rescaled; interval calibrated
for few seeds, see :mod:`harness.stats.bootstrap`); ``ci_queries``: the same with seeds
fixed.  ``p_value_query``: t-test over seed-averaged, query-paired scores (conditional on the
trained seeds); ``p_value_seed``: t-test over per-seed values (paired when the methods share
seeds, Welch otherwise); ``p_value_hierarchical``: test with seed and query variance, the
seed part on ``S - 1`` df (Behrens-Fisher type, :func:`harness.stats.inference.hierarchical_p`;
``df_hierarchical`` is the seed part's df).  A *Stat* object is ``{estimate, ci, ci_queries, se,
p_value_seed, seed_test, df_seed, p_value_query, df_query, p_value_hierarchical,
df_hierarchical, reason}``.

``analysis.json`` (``schema_version`` 2) top-level keys:

``design``
    ``methods``, ``languages``, ``tiers`` (language -> tier), ``metrics``,
    ``primary_metric``, ``seeds`` (method -> list), ``seed_groups`` (method -> group; methods
    of one group are paired by seed), ``n_queries`` (metric -> language -> count),
    ``dropped_queries`` (metric -> language -> count), ``n_rows``.
``options``
    The normalised :class:`AnalysisOptions`.
``per_method_language``
    List of ``{metric, method, language, tier, mean, ci, ci_queries, se, seed_sd, n_seeds,
    n_queries}``: the seed-averaged mean, its hierarchical bootstrap CI, the SD across seeds
    of per-seed means (``null`` with one seed) and the query count.
``method_means`` / ``tier_means``
    Lists of ``{metric, method, tier, languages, mean, ci, ci_queries, se, seed_sd,
    n_seeds}``: the mean over languages (all, ``tier`` null / one tier) of per-language
    means.
``seed_scores``
    List of ``{metric, method, seed, overall, per_language: {language: mean}}``.
``variance_components``
    One entry per metric: ``{metric, estimator, methods, excluded_methods, n_seeds,
    languages, tiers (tier -> languages), total, components, mean_squares, reml_check,
    degenerate, reason, notes}``.  ``components``: list in the order method, tier,
    language, method_x_language, seed, seed_x_language, query, residual, each ``{name,
    description, variance, share, ci_variance, ci_share, df, truncated, absorbed_into,
    parts}`` -- variances of a single per-query score; ``share`` = variance / total;
    ``residual.parts`` = ``{method_x_query, seed_x_query}``; a non-estimable component has
    ``variance`` null and ``absorbed_into`` naming the component containing it.  Method
    and estimator in :mod:`harness.stats.variance`.
``pairwise``
    ``{test, test_label, claim, correction, family, alpha, n_permutations, comparisons, summaries,
    notes, unit, decided_by, n_worlds}``: ``test`` decides ``significant`` (default ``hierarchical``, a
    claim about the methods; ``"worlds"`` whenever there are two or more worlds); ``test_label`` is
    "method-level", "method-level, for these queries", "for these trained checkpoints" (``t``,
    ``randomization``: conditional on the trained seeds) or "method-level, over worlds", and
    ``claim`` says it in a sentence.  ``unit``: ``"worlds"`` (the world is the unit of replication)
    or ``"for this world"`` (one benchmark instance); ``decided_by``: the deciding test in words.
    ``comparisons``: every pair of methods (``method_a`` before ``method_b`` in design
    order) per language and pooled (``language = "all"``: mean over languages of per-language
    means), per metric: ``{metric, method_a, method_b, language, n_languages, n_queries,
    mean_a, mean_b, mean_diff (a - b), ci, ci_queries, se, effect: {name: "d_z", value,
    definition}, p_value (paired t), p_value_randomization (sign flip, (b+1)/(B+1)),
    p_value_hierarchical, df_t, df_hierarchical, seed_level: {test, mean_diff, p_value, df,
    prob_superiority (P(seed of a beats seed of b)), n_seeds_a, n_seeds_b, reason}, mdd,
    p_adjusted (of ``test``, over its family), significant, p_adjusted_by_test: {t,
    randomization, hierarchical, seed, and worlds with two or more worlds}, significant_by_test, degenerate, reason, worlds}``;
    ``worlds`` (two or more worlds, else null): ``{n_worlds, per_world: [{world, mean_diff, n_queries,
    p_value (query level, that world), p_value_hierarchical (that world)}], estimate (mean over worlds),
    sd_between_worlds, se, df (K - 1), ci, p_value (t over worlds; null with 2 worlds), p_value_sign_flip,
    p_min_sign_flip, same_sign, query_level_positive, query_level_negative, method, reason}``
    (:mod:`harness.stats.replication`).
    ``summaries``: per metric and pair ``{metric, method_a, method_b, test, n_languages,
    significant_languages (k of N; null when not tested: two worlds), a_better, b_better, pooled_significant,
    pooled_mean_diff}``.  Details in :mod:`harness.stats.pairwise`.
``question``
    ``{metric, endpoint, methods: {ot, contrastive, baseline}, tiers: {high: [...],
    low: [...]}, verdict ("yes" | "no" | "inconclusive"), rule (the verdict rule as a
    sentence), reasons (how the rule applied, with numbers), qualifiers, degenerate,
    reason, per_seed: [{method, seed, gap, dispersion, high_mean, low_mean}], per_method:
    [{method, role, n_seeds, gap, dispersion, high_mean, low_mean,
    gap_reduction_vs_baseline}] (Stats; tier means carry intervals only, no tests; the
    reduction is baseline gap minus method gap, null without baseline), difference: {gap, dispersion, high_tier,
    low_tier} (Stats of ot - contrastive), interaction: {estimate, se, ci, p_value,
    converged, model, messages, reason} (MixedLM method x tier), power}``.  When the
    configured methods or tiers are absent, ``degenerate`` is true, ``reason`` says why and
    the verdict is "inconclusive".  Definitions and the rule: :mod:`harness.stats.question`.
``power``
    ``{metric, alpha, power, target_difference, question, pairwise, typical_pair,
    notes}``; each estimate is ``{statistic, n_seeds, se, mdd (minimum detectable
    difference now), target_difference, seeds_needed (per method, for target_difference;
    null with reason when unreachable), mdd_infinite_seeds, reason}``; ``pairwise``: list of
    ``{metric, method_a, method_b, power}`` for pooled comparisons on the primary metric;
    ``typical_pair``: from the variance components (two methods, independent seeds).
``warnings``
    Soft problems in words (dropped queries, unanswerable question, coarse p-values, ...).
"""

from harness.stats.analysis import Analysis, analyze
from harness.stats.options import AnalysisOptions

__all__ = ["Analysis", "AnalysisOptions", "analyze"]
