"""Two costs of a run besides its cells, each against its baseline in the same invocation.

    python perf/bench_post_matrix.py RUN_DIR [--gc-config CONFIG --gc-cache CACHE]

1. *Budget curves*: at each budget of ``RUN_DIR/budgets.parquet`` (a finished run with budget
   curves, e.g. the default run), the full ``analyze(...).to_dict()`` the driver used to run (the
   baseline) against :func:`harness.stats.analysis.analyze_question`, the question and the primary
   metric's tier means only; the two must agree on those values (checked here too).
2. *Garbage collection in a worker* (with ``--gc-config``): the cells of a config computed
   in-process by ``harness run``, twice in fresh processes on copies of one cache holding the shared
   stages, with Python's default collector thresholds (the baseline) and with the worker processes'
   first-generation threshold of 20,000 (``harness.executors.local._init_worker``); time in the
   collector is measured with ``gc.callbacks``.  (A bare torch training loop shows no collector cost:
   it is the harness's Python-level work around the steps that fills the young generation.)

Prints the load average before each part: run it with nothing else on the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import gc, json, sys, time
threshold, config, cache, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if threshold:
    gc.set_threshold(threshold)
spent = [0.0, 0.0]
def cb(phase, info):
    if phase == "start":
        spent[1] = time.perf_counter()
    else:
        spent[0] += time.perf_counter() - spent[1]
gc.callbacks.append(cb)
t0 = time.perf_counter()
from harness.cli import main
main(["run", config, "--cache-dir", cache, "--out", out, "--quiet"])
print(json.dumps({"wall": time.perf_counter() - t0, "gc": spent[0], "collections": [s["collections"] for s in gc.get_stats()]}))
"""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def budget_part(run_dir: Path) -> None:
    import pandas as pd

    from harness.config import load_config
    from harness.stats import analyze
    from harness.stats.analysis import analyze_question

    config = load_config(run_dir / "config.toml")
    opts = config.analysis
    results = pd.read_parquet(run_dir / "results.parquet")
    budgets = pd.read_parquet(run_dir / "budgets.parquet")
    budgets = budgets[budgets.split == "test"]
    tiers = dict(results[["language", "tier"]].drop_duplicates().itertuples(index=False, name=None))
    ot, con = opts.ot_method, opts.contrastive_method
    cols = list(results.columns)
    print(f"budget curves of {run_dir} (load {load()})")
    full_s = light_s = 0.0
    for b in sorted(set(budgets.budget_steps)):
        at_b = budgets[(budgets.budget_steps == b) & budgets.method.isin([ot, con])]
        table = pd.concat([results[~results.method.isin([ot, con])], at_b[cols]], ignore_index=True)
        t0 = time.perf_counter()
        full = analyze(table, opts, tiers=tiers).to_dict()
        t1 = time.perf_counter()
        light = analyze_question(table, opts, tiers=tiers)
        t2 = time.perf_counter()
        full_s, light_s = full_s + t1 - t0, light_s + t2 - t1
        pm = opts.primary_metric
        same = light["question"] == full["question"] and light["tier_means"] == [
            t for t in full["tier_means"] if t["metric"] == pm
        ]
        print(f"  {int(b)} steps: full analysis {t1 - t0:.2f} s, question only {t2 - t1:.2f} s, values equal: {same}")
        if not same:
            sys.exit("the light analysis differs from the full one")
    print(f"  all budgets: {full_s:.2f} s -> {light_s:.2f} s (ratio {light_s / full_s:.2f})")


def gc_part(config: Path, cache: Path) -> None:
    """The cells of ``config`` in-process, twice, each on a fresh copy of ``cache`` (put the shared stages
    there, e.g. a finished run's ``base-mini`` and ``teacher``, so that the cells' own work is timed)."""
    import shutil
    import tempfile

    print(f"garbage collection while computing the cells of {config} in-process (load {load()})")
    out = {}
    for name, threshold in (("default thresholds (baseline)", 0), ("threshold 20,000", 20_000)):
        with tempfile.TemporaryDirectory(prefix="bench-gc-") as tmp:
            shutil.copytree(cache, Path(tmp) / "cache")
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(threshold), str(config), f"{tmp}/cache", f"{tmp}/run"],
                check=True,
                capture_output=True,
                text=True,
            )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        out[name] = r
        print(
            f"  {name}: run {r['wall']:.1f} s, in the collector {r['gc']:.2f} s "
            f"({100 * r['gc'] / r['wall']:.1f} %), collections per generation {r['collections']} (load {load()})"
        )
    a, b = out.values()
    print(f"  collector time ratio {b['gc'] / max(a['gc'], 1e-9):.2f}, run time ratio {b['wall'] / a['wall']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a finished run directory with budgets.parquet")
    ap.add_argument("--gc-config", type=Path, help="a config whose cells the GC part computes (in-process)")
    ap.add_argument("--gc-cache", type=Path, help="a cache holding that config's shared stages (copied, not changed)")
    args = ap.parse_args()
    budget_part(args.run_dir)
    if args.gc_config and args.gc_cache:
        gc_part(args.gc_config, args.gc_cache)


if __name__ == "__main__":
    main()
