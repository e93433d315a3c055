"""Cross-check of the ANOVA variance components on a run directory: dense REML vs statsmodels MixedLM.

Reads ``RUN_DIR/results.parquet``, forms the per-(method, seed, language) means of the
primary metric (default nDCG@10), and prints, for the run-level components (method,
language with tier, method x language, seed, seed x language): the ANOVA moment estimates
(:func:`harness.stats.variance.anova_run_components`), the dense REML fit
(:mod:`harness.stats.reml`: converged?, criterion at its optimum and at the ANOVA point),
and statsmodels' ``MixedLM`` REML fit of the same model (its converged flag, warnings and
REML criterion, evaluated with the dense criterion at its estimates).  Wall times of both
fits are measured in the same run.

Run:  ``python perf/bench_reml.py RUN_DIR [--metric ndcg@10]``
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--metric", default="ndcg@10")
    args = ap.parse_args(argv)

    import numpy as np
    import pandas as pd
    from statsmodels.regression.mixed_linear_model import MixedLM

    from harness.stats.data import prepare
    from harness.stats.reml import COMPONENTS, RemlCriterion, design_matrices, reml_fit
    from harness.stats.variance import (
        anova_run_components,
        balanced_design,
        run_level_mean_squares,
    )

    table = pd.read_parquet(args.run_dir / "results.parquet")
    data = prepare(
        table,
        metrics=[args.metric],
        primary_metric=args.metric,
        methods=None,
        languages=None,
        tiers=None,
        nan_policy="raise",
    ).metrics[args.metric]
    methods, n_s, _, _ = balanced_design(data)
    langs = list(data.languages)
    tier_names = sorted({data.tiers[x] for x in langs})
    y = np.stack([data.run_means(m)[:n_s] for m in methods])  # (M, S, L)
    ms, df = run_level_mean_squares(y, np.array([tier_names.index(data.tiers[x]) for x in langs]))
    anova = anova_run_components(ms, df, *y.shape)
    t0 = time.perf_counter()
    check = reml_fit(y, anova)
    t_reml = time.perf_counter() - t0

    n_m, _, n_l = y.shape
    mi, si, li = (a.ravel() for a in np.meshgrid(np.arange(n_m), np.arange(n_s), np.arange(n_l), indexing="ij"))
    frame = pd.DataFrame({"y": y.ravel(), "g": 1, "m": mi, "l": li, "ml": mi * n_l + li, "s": mi * n_s + si})
    vc = {"method": "0 + C(m)", "language": "0 + C(l)", "method_x_language": "0 + C(ml)", "seed": "0 + C(s)"}
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = MixedLM.from_formula("y ~ 1", groups="g", vc_formula=vc, re_formula="0", data=frame).fit(reml=True)
    t_sm = time.perf_counter() - t0
    sm = dict(zip(res.model.exog_vc.names, res.vcomp, strict=True)) | {"seed_x_language": float(res.scale)}
    crit = RemlCriterion(y, design_matrices(*y.shape))
    sm_crit = crit(np.array([sm[k] for k in crit.names]))[0]

    print(f"{args.run_dir}: {args.metric}, {n_m} methods x {n_s} seeds x {n_l} languages = {y.size} run means")
    print(f"{'component':<20}{'ANOVA':>14}{'dense REML':>14}{'MixedLM':>14}")
    for k in COMPONENTS:
        print(f"{k:<20}{anova.get(k, float('nan')):>14.6g}{check.reml.get(k, float('nan')):>14.6g}{sm[k]:>14.6g}")
    print(
        f"-2 REML log-likelihood (constant omitted): dense optimum {check.criterion:.4f}, at the ANOVA point "
        f"{check.criterion_at_anova:.4f}, at MixedLM's estimates {sm_crit:.4f}"
    )
    print(
        f"dense REML: converged (KKT) {check.converged}, max relative difference to ANOVA "
        f"{check.max_relative_difference:.2e}, {t_reml:.2f} s"
    )
    for m in check.messages:
        print(f"  {m}")
    print(
        f"MixedLM: converged flag {res.converged}, {t_sm:.2f} s, warnings: "
        f"{sorted({str(w.message)[:90] for w in caught}) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
