"""What evaluating a second mode costs: one run in both modes against the same run in one mode.

The shared stages (world, base encoder, teachers) are built once first and kept; before each
timed run the cached cells, runs, document indexes and token shards are removed, so both timed
runs train every method and evaluate from scratch with the same warm teachers.  Prints wall
times, per-stage sums over cells (fit, retrieve, evaluate) and the two-mode / one-mode ratios,
and checks that the monolingual rows of the two-mode run equal the one-mode run's (max
absolute difference).  Training (``fit``) should be about equal: a cell trains once whatever
the modes.

Run:  ``python perf/bench_modes.py [--config smoke] [--cache DIR]``  (through ``heavy``;
record ``uptime`` beside the figures).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

STAGES = ("fit", "retrieve", "evaluate")


def timed_run(config, cache, out: Path) -> tuple[float, dict[str, float]]:
    from harness.runner import run_matrix

    for stage in ("cell", "run", "docindex", "tokens"):  # cells computed from scratch; teachers stay warm
        shutil.rmtree(cache.root / stage, ignore_errors=True)
    t0 = time.perf_counter()
    res = run_matrix(config, run_dir=out, cache=cache, progress=False, log=lambda s: None)
    wall = time.perf_counter() - t0
    if res.status != "complete":
        raise SystemExit(f"run {out} is {res.status}: {[f.error for f in res.failed]}")
    sums = dict.fromkeys(STAGES, 0.0)
    for cell in res.cells:
        for stage in STAGES:
            sums[stage] += float((cell.get("timings") or {}).get(stage, 0.0))
    return wall, sums


def main() -> None:
    import pandas as pd

    from harness.cache import Cache
    from harness.config import load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="smoke", help="a config name or path (default: smoke)")
    ap.add_argument("--cache", default=None, help="cache directory (default: a temporary one)")
    args = ap.parse_args()
    root = Path(args.cache or tempfile.mkdtemp(prefix="bench-modes-"))
    cache = Cache(root / "cache")
    one = load_config(args.config, overrides={"benchmark": {"modes": ["monolingual"]}})
    two = load_config(args.config, overrides={"benchmark": {"modes": ["monolingual", "cross-lingual"]}})
    from harness.runner import run_matrix

    t0 = time.perf_counter()
    run_matrix(one, run_dir=root / "warm", cache=cache, progress=False, log=lambda s: None)
    print(f"warm-up (world, base encoder, teachers and one full run): {time.perf_counter() - t0:.1f} s")
    w1, s1 = timed_run(one, cache, root / "one")
    w2, s2 = timed_run(two, cache, root / "two")
    print(f"{'':>12} {'one mode':>10} {'two modes':>10} {'ratio':>7}")
    print(f"{'wall':>12} {w1:>9.1f}s {w2:>9.1f}s {w2 / w1:>7.2f}")
    for stage in STAGES:
        ratio = s2[stage] / s1[stage] if s1[stage] else float("nan")
        print(f"{stage:>12} {s1[stage]:>9.1f}s {s2[stage]:>9.1f}s {ratio:>7.2f}")
    a = pd.read_parquet(root / "one" / "results.parquet")
    b = pd.read_parquet(root / "two" / "results.parquet")
    key = ["method", "seed", "mode", "language", "query_id", "metric"]
    m = a.merge(b[b["mode"] == "monolingual"], on=key, suffixes=("_one", "_two"))
    diff = float((m.value_one - m.value_two).abs().max())
    print(f"monolingual rows: {len(a)} in the one-mode run, {len(m)} matched; max |difference| {diff:.3g}")
    print(json.dumps({"wall": [w1, w2], "stages_one": s1, "stages_two": s2, "max_abs_diff": diff}))


if __name__ == "__main__":
    main()
