"""The analysis a run writes to ``analysis.json``: per mode, the dev protocol, the statistics and the budget curves.

:func:`analyze_modes` is what :func:`harness.runner.run_matrix` calls once every cell is
collected: in each mode, the protocol (:mod:`harness.protocol`) picks each method's variant
and budget on dev and the statistics (:func:`harness.stats.analyze`) run on the test queries;
:func:`budget_curves` re-runs the question at every shared checkpoint budget.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.config import HarnessConfig

__all__ = ["analyze_modes", "analyze_results", "budget_curves"]


def analyze_modes(
    results: pd.DataFrame,
    dev: pd.DataFrame | None,
    budgets: pd.DataFrame | None,
    config: HarnessConfig,
    bench,
    modes: tuple[str, ...],
    *,
    any_done: bool = True,
) -> dict[str, Any]:
    """``analysis.json``: the protocol and the analysis run once per mode, on that mode's rows only.

    In each mode, each method's variant and budget are chosen on that mode's dev queries and the
    headline is analysed on its test queries (:mod:`harness.protocol`); the shape of the result
    is :func:`harness.modes.combine`'s.
    """
    from harness.modes import combine, split_by_mode
    from harness.protocol import protocol_summary, select_on_dev, tuned_results

    res, devs, buds = split_by_mode(results, modes), split_by_mode(dev, modes), split_by_mode(budgets, modes)
    per_mode: dict[str, dict[str, Any]] = {}
    for mode in modes:
        r, d, b = res[mode], devs[mode], buds[mode]
        assert r is not None  # results is a table, so every mode has one (maybe empty)
        opts = config.analysis_for(mode)  # the question's roles in this mode ([question.<mode>])
        selections = select_on_dev(config, d, b) if any_done else {}
        headline = tuned_results(r, b, selections) if selections else r
        a = analyze_results(headline, config, bench, opts)
        a["protocol"] = protocol_summary(
            config, selections, d is not None, getattr(bench, "split_statement", lambda: None)(), opts
        )
        if b is not None and "error" not in a:
            a["budget_curves"] = budget_curves(b[b.split == "test"], headline, config, bench, opts)
        per_mode[mode] = a
    return combine(per_mode)


def analyze_results(results: pd.DataFrame, config: HarnessConfig, bench, options: Any = None) -> dict[str, Any]:
    """The statistics package's analysis as JSON data (``{"error": ...}`` if it cannot run).

    ``options``: the mode's analysis options (:meth:`HarnessConfig.analysis_for`); default the config's.
    """
    from harness.errors import StatisticsError
    from harness.stats import analyze

    if results.empty:
        return {"error": "no finished cells: nothing to analyse"}
    tiers = {lang: bench.tier(lang) for lang in bench.languages}
    try:
        return analyze(
            results,
            options or config.analysis,
            tiers=tiers,
            pivot=getattr(bench, "pivot", None),
            worlds_kind=config.worlds_kind,
        ).to_dict()
    except StatisticsError as e:  # degenerate tables (e.g. one method) are reported, not hidden
        return {"error": str(e)}


def budget_curves(
    budgets: pd.DataFrame, results: pd.DataFrame, config: HarnessConfig, bench, options: Any = None
) -> dict[str, Any]:
    """The question and the tier means at every budget of the budget curves (``budgets.parquet``).

    At each budget step count ``b`` shared by the question's OT and contrastive methods, their
    checkpoints at ``b`` replace their final results and :func:`harness.stats.analyze` is
    run on that table (every other method: its final result), so each point is computed
    exactly as the headline is (:func:`harness.stats.analysis.analyze_question`: the question and
    the tier means only).  Returns ``{"points": [...], "crossovers": [...]}``: per
    budget, D with its CI and p-value, the verdict, and each method's tier means.
    """
    from harness.errors import StatisticsError
    from harness.stats.analysis import analyze_question

    opts = options or config.analysis
    ot, con = opts.treatment, opts.comparator
    have = set(budgets.method.unique())
    if not {ot, con} <= have:
        return {"note": f"budget curves need checkpoints of both {ot!r} and {con!r} (eval_at)", "points": []}
    steps = sorted(set(budgets[budgets.method == ot].budget_steps) & set(budgets[budgets.method == con].budget_steps))
    tiers = {lang: bench.tier(lang) for lang in bench.languages}
    points: list[dict[str, Any]] = []
    cols = list(results.columns)
    for b in steps:
        at_b = budgets[(budgets.budget_steps == b) & budgets.method.isin([ot, con])]
        table = pd.concat([results[~results.method.isin([ot, con])], at_b[cols]], ignore_index=True)
        try:
            a = analyze_question(  # = analyze()'s parts
                table, opts, tiers=tiers, pivot=getattr(bench, "pivot", None), worlds_kind=config.worlds_kind
            )
        except StatisticsError as e:
            points.append({"steps": int(b), "error": str(e)})
            continue
        q = a.get("question") or {}
        endpoint = q.get("endpoint", "gap")
        diff = (q.get("difference") or {}).get(endpoint) or {}
        means = [
            {k: g.get(k) for k in ("method", "tier", "mean", "ci")}
            for g in a.get("tier_means", [])
            if g.get("metric") == opts.primary_metric
        ]
        first = at_b.drop_duplicates("method").set_index("method")
        points.append(
            {
                "steps": int(b),
                "examples": {m: _num(first.loc[m, "budget_examples"]) for m in (ot, con) if m in first.index},
                "seconds": {m: _num(first.loc[m, "budget_seconds"]) for m in (ot, con) if m in first.index},
                "verdict": q.get("verdict"),
                "endpoint": endpoint,
                "D": diff.get("estimate"),
                "ci": diff.get("ci"),
                "p_value_seed": diff.get("p_value_seed"),
                # the interval the verdict was decided on (worlds / languages like these / these languages)
                "decisive_interval": q.get("decisive_interval"),
                "tier_means": means,
            }
        )
    ds: list[tuple[int, float]] = [(int(p["steps"]), d) for p in points if (d := _d(p)) is not None]
    crossovers = [{"between_steps": [a_s, b_s]} for (a_s, a_d), (b_s, b_d) in zip(ds, ds[1:]) if (a_d > 0) != (b_d > 0)]
    verdicts = sorted({str(p.get("verdict")) for p in points if "verdict" in p})
    return {
        "treatment": ot,
        "comparator": con,
        "primary_metric": opts.primary_metric,
        "points": points,
        "crossovers": crossovers,
        "verdicts": verdicts,
        "verdict_holds_across_budgets": len(verdicts) == 1,
    }


def _num(x: Any) -> Any:
    try:
        return None if x is None or pd.isna(x) else float(x)
    except (TypeError, ValueError):
        return None


def _d(point: dict[str, Any]) -> float | None:
    d = point.get("D")
    return float(d) if isinstance(d, (int, float)) else None
