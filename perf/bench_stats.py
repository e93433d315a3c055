"""How long does the statistical analysis of a MIRACL-sized results table take?

Generates a results table of MIRACL's shape -- 18 languages with the MIRACL dev query
counts (119 to 2,896, 13,495 in all), 6 methods, 5 seeds, two metrics (nDCG@10 and
Recall@100): 809,700 rows -- from :func:`harness.stats.simulate.miracl_sized_design`
(nDCG-like scores: clipped to [0, 1] on a 1/64 grid), then times
:func:`harness.stats.analyze` with the default options (10,000 sign flips, 2,000 bootstrap
replicates) and prints the wall time of each stage, measured in the same run.  The target
is under 60 s on 2 cores.

Run:  ``python perf/bench_stats.py [--threads N] [--repeat R] [--json OUT]``
(``--threads`` sets OPENBLAS/OMP thread counts before numpy is imported).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: library default)")
    ap.add_argument("--repeat", type=int, default=1, help="timed repetitions of analyze()")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import numpy as np

    from harness.stats import AnalysisOptions, analyze
    from harness.stats import analysis as analysis_mod
    from harness.stats.simulate import miracl_sized_design, simulate_results

    t0 = time.perf_counter()
    design = miracl_sized_design()
    table = simulate_results(design, np.random.default_rng(0)).results
    t_gen = time.perf_counter() - t0
    n_q = sum(design.queries(lang) for lang in design.tiers)
    print(
        f"table: {len(table):,} rows = {len(design.methods)} methods x {design.seeds(design.methods[0])} seeds x "
        f"{n_q:,} queries in {len(design.tiers)} languages x {len(design.metrics)} metrics "
        f"(generated in {t_gen:.1f} s)"
    )

    # per-stage timings: wrap the stage functions analyze() calls
    stages = {"prepare": 0.0, "bootstrap": 0.0, "variance": 0.0, "pairwise": 0.0, "question": 0.0}
    wrapped = {
        "prepare": "prepare",
        "hierarchical_bootstrap": "bootstrap",
        "decompose": "variance",
        "compare_metric": "pairwise",
        "answer": "question",
    }
    originals = {name: getattr(analysis_mod, name) for name in wrapped}

    def timed(name, fn):
        def inner(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                stages[wrapped[name]] += time.perf_counter() - t

        return inner

    for name, fn in originals.items():
        setattr(analysis_mod, name, timed(name, fn))
    totals = []
    try:
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = analyze(table, AnalysisOptions(), tiers=dict(design.tiers))
            totals.append(time.perf_counter() - t)
    finally:
        for name, fn in originals.items():
            setattr(analysis_mod, name, fn)
    d = result.to_dict()
    per_run = {k: v / args.repeat for k, v in stages.items()}
    per_run["other"] = float(np.mean(totals)) - sum(per_run.values())
    print(
        f"analyze(): {min(totals):.1f} s (best of {args.repeat}; BLAS threads: "
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, CPUs visible: {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    for k, v in per_run.items():
        print(f"  {k:10s} {v:6.2f} s  ({v / np.mean(totals):5.1%})")
    print(
        f"  {len(d['pairwise']['comparisons'])} pairwise comparisons, question verdict: "
        f"{d['question']['verdict']}, analysis.json {len(json.dumps(d)) / 1e6:.1f} MB"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "rows": len(table),
                    "seconds": totals,
                    "stages": per_run,
                    "threads": args.threads,
                    "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()[0],
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
