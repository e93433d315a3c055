"""Cost of the embedded world and its base encoder, against a baseline tree, in one invocation.

Times, in a fresh process with a fresh cache each, (1) generating the default run's world
(``harness run``'s ``[benchmark]``) and (2) pre-training its ``mini`` base encoder
(``[mini]`` of the default config, 2 MLM threads), for the working tree and for a baseline
commit (``git archive`` into a temporary directory), alternating, ``--repeats`` times each.
The initial-alignment mechanisms must not make either slower by more than ~10 %.

Run (under the machine lock)::

    /work/bin/heavy python perf/bench_world_build.py --baseline 3d9cf4a --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time, tomllib
from pathlib import Path
import harness
assert Path(harness.__file__).resolve().is_relative_to(Path(sys.argv[2]).resolve()), harness.__file__
from harness.cache import Cache
from harness.config import config_from_dict, default_config_text
from harness.engine import Engine
cfg = config_from_dict(tomllib.loads(default_config_text("default")))
engine = Engine(cfg, Cache(Path(sys.argv[1])))
t0 = time.perf_counter()
bench = engine.benchmark
bench.fingerprint()
t1 = time.perf_counter()
engine.base_dir()
t2 = time.perf_counter()
print(json.dumps({"world": t1 - t0, "base": t2 - t1}))
"""


def one(tree: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-world-") as cache:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, cache, str(tree)],
            cwd=tree,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="3d9cf4a", help="baseline commit (default: main before this work)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-world-base-") as tmp:
        base_tree = Path(tmp)
        archive = subprocess.run(
            ["git", "archive", args.baseline, "harness", "methods", "reports"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        subprocess.run(["tar", "-x", "-C", str(base_tree)], input=archive.stdout, check=True)
        rows: dict[str, list[dict[str, float]]] = {"baseline": [], "current": []}
        for _ in range(args.repeats):
            rows["baseline"].append(one(base_tree))
            rows["current"].append(one(ROOT))
    summary = {}
    for name, rs in rows.items():
        summary[name] = {k: min(r[k] for r in rs) for k in ("world", "base")}
    for k in ("world", "base"):
        ratio = summary["current"][k] / summary["baseline"][k]
        print(f"{k}: baseline {summary['baseline'][k]:.1f} s, current {summary['current'][k]:.1f} s, ratio {ratio:.3f}")
    total_b = sum(summary["baseline"].values())
    total_c = sum(summary["current"].values())
    print(
        f"world + base: baseline {total_b:.1f} s, current {total_c:.1f} s, ratio {total_c / total_b:.3f}; "
        f"load {os.getloadavg()[0]:.2f} (min of {args.repeats} each)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
