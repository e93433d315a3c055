"""Type-I error and power of the pairwise tests when seed variance is material (issue 16).

Simulates null tables of the default run's shape and variance components
(:func:`harness.stats.calibration.default_run_design`: 6 methods x 3 paired seeds x 6
languages x 1,000 shared queries, nDCG@10 components of the default run) with the seed SDs
scaled by ``--seed-scales`` (1 = the default run, 2.5 = heavy), and tables in which one
method is better by ``--effects`` everywhere.  For each test it prints, per scope (the 15
pooled comparisons; the 90 per-language comparisons, each a Holm family as in
``analysis.correction_family = "metric-scope"``):

* ``raw``: rejection rate of true nulls at alpha = 0.05 (unadjusted),
* ``FWER``: share of tables whose Holm-adjusted family rejects a true null,
* ``power raw`` / ``power Holm``: rejection rate of the comparisons with the better method,

with the Monte Carlo SE of each rate, sqrt(p (1 - p) / n) over replicates (for raw rates the
comparisons of one table are correlated, so the SE shown, over tables, is a lower bound).

Run:  ``python perf/bench_pairwise_type1.py [--n-null 1000] [--n-effect 300]
[--seed-scales 1 2.5] [--effects 0.02 0.05] [--json OUT]`` (about 2-4 min per 1,000 tables on 2 cores).

Worlds: ``--worlds 3 5 8 --method-x-world-sd 0.02 [--world-queries 200] [--world-reps 200]`` adds, per K, tables of K
drawn worlds whose methods differ world by world (method x world SD) but not on average, and
tables where the last method is also better by each ``--effects`` in every world
(:func:`harness.stats.calibration.world_pairwise_rates`): the pooled tests (worlds held fixed)
against the test over worlds that decides with K >= 2 worlds.  The first table is skipped with
``--n-null 0``.  Each world table takes about 0.3 s per replicate at 6 methods, 3 seeds, 6 languages
and 200 queries per world and language.
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-null", type=int, default=1000, help="null tables per seed scale")
    ap.add_argument("--n-effect", type=int, default=300, help="tables per (seed scale, effect)")
    ap.add_argument("--seed-scales", type=float, nargs="+", default=[1.0, 2.5])
    ap.add_argument("--effects", type=float, nargs="+", default=[0.02, 0.05])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--json", default=None)
    ap.add_argument("--worlds", type=int, nargs="*", default=[], help="numbers of worlds K for the world tables")
    ap.add_argument("--method-x-world-sd", type=float, default=0.02)
    ap.add_argument("--world-queries", type=int, default=200, help="queries per world and language")
    ap.add_argument("--world-reps", type=int, default=200, help="tables per K (null, and per effect)")
    args = ap.parse_args(argv)

    import numpy as np

    from harness.stats.calibration import (
        LABELS,
        TESTS,
        default_run_design,
        pairwise_rates,
    )

    def se(p: float, n: int) -> float:
        return float(np.sqrt(max(p * (1 - p), 1e-12) / n))

    out: list[dict] = []
    for scale in args.seed_scales if args.n_null > 0 else []:
        t0 = time.perf_counter()
        null = pairwise_rates(
            default_run_design(seed_scale=scale, n_queries=args.queries),
            args.n_null,
            np.random.default_rng(int(1000 * scale)),
        )
        secs = time.perf_counter() - t0
        eff = {
            e: pairwise_rates(
                default_run_design(seed_scale=scale, effect=e, n_queries=args.queries),
                args.n_effect,
                np.random.default_rng(int(1000 * scale + 1000 * e)),
            )
            for e in args.effects
        }
        print(
            f"\nseed SDs x {scale:g} (seed {0.002826 * scale:.4f}, seed x language {0.002600 * scale:.4f}); "
            f"{args.n_null} null tables ({secs:.0f} s), {args.n_effect} tables per effect"
        )
        for scope in null:
            head = f"  {scope:<13}{'raw (SE)':>17}{'FWER (SE)':>17}" + "".join(
                f"{f'power raw/Holm d={e:g}':>26}" for e in args.effects
            )
            print(head)
            for k in TESTS:
                r = null[scope]
                row = (
                    f"  {k:<13}{r.raw_null[k]:>9.4f} ({se(r.raw_null[k], args.n_null):.4f})"
                    f"{r.fwer[k]:>9.4f} ({se(r.fwer[k], args.n_null):.4f})"
                )
                for e in args.effects:
                    a = eff[e][scope]
                    row += f"{a.raw_effect[k]:>17.3f} / {a.power_holm[k]:.3f}"
                print(row)
                out.append(
                    {
                        "seed_scale": scale,
                        "scope": scope,
                        "test": k,
                        "label": LABELS[k],
                        "raw_null": r.raw_null[k],
                        "fwer": r.fwer[k],
                        "n_null": args.n_null,
                        "power_raw": {str(e): eff[e][scope].raw_effect[k] for e in args.effects},
                        "power_holm": {str(e): eff[e][scope].power_holm[k] for e in args.effects},
                        "n_effect": args.n_effect,
                    }
                )
    if args.n_null > 0:
        print("\ntests: " + "; ".join(f"{k} = {v}" for k, v in LABELS.items()))
    out += _world_tables(args, se)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


def _world_tables(args: argparse.Namespace, se) -> list[dict]:
    """The world tables (see the module docstring): one row per test, per K."""
    import numpy as np

    from harness.stats.calibration import WORLD_LABELS, WORLD_TESTS, default_run_design, world_pairwise_rates

    out = []
    n_null = n_eff = args.world_reps
    for k in args.worlds:
        t0 = time.perf_counter()
        design = default_run_design(seed_scale=1.0, n_queries=args.world_queries)
        null = world_pairwise_rates(design, k, args.method_x_world_sd, n_null, np.random.default_rng(100 + k))
        secs = time.perf_counter() - t0
        eff = {
            e: world_pairwise_rates(
                default_run_design(seed_scale=1.0, effect=e, n_queries=args.world_queries),
                k,
                args.method_x_world_sd,
                n_eff,
                np.random.default_rng(200 + k + int(1000 * e)),
            )
            for e in args.effects
        }
        print(
            f"\n{k} worlds, method x world SD {args.method_x_world_sd:g}, {args.world_queries} queries per world "
            f"and language; {n_null} null tables ({secs:.0f} s), {n_eff} per effect"
        )
        print(
            f"  {'test':<13}{'raw (SE)':>17}{'FWER (SE)':>17}"
            + "".join(f"{f'power raw/Holm d={e:g}':>26}" for e in args.effects)
        )
        for t in WORLD_TESTS:
            row = (
                f"  {t:<13}{null.raw_null[t]:>9.4f} ({se(null.raw_null[t], n_null):.4f})"
                f"{null.fwer[t]:>9.4f} ({se(null.fwer[t], n_null):.4f})"
            )
            for e in args.effects:
                row += f"{eff[e].raw_effect[t]:>17.3f} / {eff[e].power_holm[t]:.3f}"
            print(row)
            out.append(
                {
                    "worlds": k,
                    "method_x_world_sd": args.method_x_world_sd,
                    "scope": null.scope,
                    "test": t,
                    "label": WORLD_LABELS[t],
                    "raw_null": null.raw_null[t],
                    "fwer": null.fwer[t],
                    "n_null": n_null,
                    "power_raw": {str(e): eff[e].raw_effect[t] for e in args.effects},
                    "power_holm": {str(e): eff[e].power_holm[t] for e in args.effects},
                    "n_effect": n_eff,
                }
            )
    if args.worlds:
        print("\nworld tests: " + "; ".join(f"{k} = {v}" for k, v in WORLD_LABELS.items()))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
