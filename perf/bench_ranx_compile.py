"""What ranx's numba kernels cost a fresh process: cold cache vs warm cache vs already loaded.

    python perf/bench_ranx_compile.py [--repeats 3] [--queries 1000]

Both evaluation paths are measured in the same invocation: the harness's (``evaluate_per_query``:
ranx's per-query kernels on plain arrays) and the baseline ``evaluate_per_query_ranx`` (ranx's
public ``Qrels``/``Run``/``evaluate``, which builds numba typed dicts and lists whose methods
compile in every process); the last line gives the ratios.

Each measurement is a new Python process that imports the harness's evaluation and scores one
language (``--queries`` queries x 100 retrieved documents, the default metrics ndcg@10,
recall@100, mrr@10) twice, with ``NUMBA_CACHE_DIR`` pointing at

* ``cold``: an empty directory (numba compiles every kernel and writes its cache there),
* ``warm``: the directory the cold process just filled (numba loads the compiled kernels),

and reports, per process, the seconds of the first call (compile or load, plus the work) and of
the second call (the work alone), then the ratio warm / cold of the first call.  ranx declares
most kernels ``@njit(cache=True)``, so without ``NUMBA_CACHE_DIR`` numba caches them in
``__pycache__`` next to ranx's sources: once per environment, as long as site-packages is
writable.  What remains per process is what this script shows as ``warm`` minus ``second``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from harness import evaluation
evaluate_per_query = getattr(evaluation, sys.argv[2])
t_import = time.perf_counter() - t0
n = int(sys.argv[1])
rng = np.random.default_rng(0)
qrels = {f"q{i}": {f"d{j}": 1 for j in rng.choice(1000, 3, replace=False)} for i in range(n)}
run = {f"q{i}": {f"d{j}": float(s) for j, s in zip(rng.choice(1000, 100, replace=False), rng.random(100))}
       for i in range(n)}
metrics = ["ndcg@10", "recall@100", "mrr@10"]
t0 = time.perf_counter(); evaluate_per_query(qrels, run, metrics); first = time.perf_counter() - t0
t0 = time.perf_counter(); evaluate_per_query(qrels, run, metrics); second = time.perf_counter() - t0
print(json.dumps({"import": t_import, "first": first, "second": second}))
"""


PATHS = {"kernels": "evaluate_per_query", "ranx": "evaluate_per_query_ranx"}


def measure(cache_dir: str, queries: int, path: str = "kernels") -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(queries), PATHS[path]], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args()
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    summary = {}
    for path in PATHS:
        rows = []
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="numba-cache-") as d:
                cold = measure(d, args.queries, path)
                warm = measure(d, args.queries, path)
            rows.append((cold, warm))
            print(
                f"{path} repeat {r}: cold first {cold['first']:.2f} s (second {cold['second']:.2f} s, import "
                f"{cold['import']:.2f} s); warm first {warm['first']:.2f} s (second {warm['second']:.2f} s, import "
                f"{warm['import']:.2f} s)"
            )
        cold_first = sorted(c["first"] for c, _ in rows)[len(rows) // 2]
        warm_first = sorted(w["first"] for _, w in rows)[len(rows) // 2]
        second = sorted(w["second"] for _, w in rows)[len(rows) // 2]
        summary[path] = (cold_first, warm_first, second)
        print(
            f"{path}: median over {len(rows)}: first call cold {cold_first:.2f} s, warm {warm_first:.2f} s; loaded "
            f"kernels {second:.2f} s; per-process cost left with a warm cache {warm_first - second:.2f} s"
        )
    (kc, kw, _), (rc, rw, _) = summary["kernels"], summary["ranx"]
    print(f"kernels / ranx: first call cold {kc / rc:.3f}, first call warm {kw / rw:.3f}")


if __name__ == "__main__":
    main()
