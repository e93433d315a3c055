"""Stage timings of the default run, cold, against a baseline measured in the same invocation.

    python perf/bench_default_run.py                       # this checkout, cold cache
    python perf/bench_default_run.py --baseline-ref 3ae0ae8 # and that commit, same way
    python perf/bench_default_run.py --run-dir R [--baseline-dir B]   # only read manifests

Each measured run is ``harness run [CONFIG]`` in a new process with an empty temporary cache
(``--cache-dir``), so the base encoder, the teachers and every cell are computed; the numba
cache of the environment (ranx's kernels) is what it is (state it: a fresh venv compiles them
once).  ``--baseline-ref`` checks the commit out into a temporary git worktree and runs it
in an overlay venv (its own editable install, every other package this interpreter's), one
run after the other, never side by side.  The script prints, for each run and as ratios (this / baseline):

* wall seconds of ``harness run`` (process start to exit) and the machine's load average
  before and after (other work on the machine makes timings meaningless: say so);
* the shared stages (base encoder, each teacher) from ``manifest.json``;
* per method, the sums over seeds of the cell stages ``fit`` (training, with checkpoint
  evaluations), ``retrieve`` (final encoding + search) and ``evaluate`` (scoring);
* the cells' total (CPU seconds of cell work; with ``workers = 2`` the wall is about half);
* first, the single-thread float32 GEMM rate of the mini encoder's layer shapes (``--gemm-only``:
  only that), the compute ceiling the stages run against.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def overlay_python(source: Path, where: Path) -> str:
    """A venv at ``where`` whose own editable install is ``source`` and whose other packages are
    this interpreter's (a ``.pth`` line): the baseline runs the same dependencies, its own code."""
    import site
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    py = where / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = [p for p in site.getsitepackages() if Path(p).exists()] or [sysconfig.get_paths()["purelib"]]
    (Path(purelib) / "_bench_overlay.pth").write_text("\n".join(ours) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(source),
        ],
        check=True,
    )
    # The overlay's editable install must win over this interpreter's copy of the harness: it does for
    # an editable install here (a path hook), not for a regular one (site-packages precede .pth paths).
    where_from = subprocess.run(
        [str(py), "-c", "import harness; print(harness.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    ).stdout.strip()
    if not Path(where_from).resolve().is_relative_to(source.resolve()):
        sys.exit(
            f"the baseline would import this interpreter's harness ({where_from}), not {source}: "
            "run --baseline-ref from a development install (pip install -e .)"
        )
    return str(py)


def run_harness(python: str, config: str | None, out: Path, cache: Path) -> dict:
    """``harness run`` with ``python`` in a new process; returns wall seconds and the load averages."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [python, "-m", "harness.cli", "run", *([config] if config else [])]
    cmd += ["--cache-dir", str(cache), "--out", str(out)]
    before = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"harness run failed with {python} (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return {"wall": wall, "load_before": before, "load_after": load(), "dir": str(out)}


def stages(run_dir: Path) -> dict[str, float]:
    """Stage seconds of a run directory's manifest (shared stages, per-method cell stages, totals)."""
    m = json.loads((Path(run_dir) / "manifest.json").read_text())
    out: dict[str, float] = {}
    teachers = 0.0
    for name, sec in (m.get("shared_stages") or {}).items():
        if name.startswith("teacher"):
            teachers += float(sec)
        else:
            out[name] = float(sec)
    if teachers:
        out["teachers (sum over seeds)"] = teachers
    per: dict[str, float] = defaultdict(float)
    total = 0.0
    for cell in m["cells"]:
        for stage, sec in (cell.get("timings") or {}).items():
            if stage == "teacher":  # waiting for / loading the seed's teacher inside a cell
                continue
            per[f"{cell['method']}: {stage}"] += float(sec)
            total += float(sec)
    out.update(sorted(per.items()))
    out["cells total (CPU s of cell work)"] = total
    out["run (manifest seconds)"] = float(m["seconds"])
    return out


def gemm_rate(repeats: int = 100) -> list[tuple[str, float]]:
    """Single-thread float32 GFLOPS of the mini encoder's linear layers (768 tokens, hidden 128,
    intermediate 512): the ceiling the training and encoding stages run against."""
    import torch

    torch.set_num_threads(1)
    out = []
    for k, n in ((128, 128), (128, 512), (512, 128)):
        x, w = torch.randn(768, k), torch.randn(n, k)
        for _ in range(5):
            torch.nn.functional.linear(x, w)
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.nn.functional.linear(x, w)
        dt = (time.perf_counter() - t0) / repeats
        out.append((f"768x{k} @ {k}x{n}", 2 * 768 * k * n / dt / 1e9))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", help="config name or file (default: the default config)")
    ap.add_argument("--baseline-ref", help="git commit to run the same way, after this checkout")
    ap.add_argument("--run-dir", type=Path, help="read this run directory instead of running")
    ap.add_argument("--baseline-dir", type=Path, help="read this baseline run directory (not measured now)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--gemm-only", action="store_true", help="only print the single-thread GEMM rate and exit")
    args = ap.parse_args()
    rates = gemm_rate()
    print(f"single-thread float32 GEMM (load {load()}): " + ", ".join(f"{s} {g:.1f} GFLOPS" for s, g in rates))
    if args.gemm_only:
        return

    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-default-") as tmp:
        t = Path(tmp)
        if args.run_dir:
            runs["this"] = {"dir": str(args.run_dir)}
        else:
            runs["this"] = run_harness(sys.executable, args.config, t / "this-run", t / "this-cache")
        if args.baseline_ref:
            wt = t / "baseline-src"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), args.baseline_ref],
                check=True,
                capture_output=True,
            )
            try:
                py = overlay_python(wt, t / "baseline-venv")
                runs["baseline"] = run_harness(py, args.config, t / "base-run", t / "base-cache")
                runs["baseline"]["ref"] = args.baseline_ref
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)], check=False)
        elif args.baseline_dir:
            runs["baseline"] = {"dir": str(args.baseline_dir), "note": "read from disk, not measured in this run"}
        figures = {name: {**r, "stages": stages(Path(r["dir"]))} for name, r in runs.items()}

    this, base = figures["this"], figures.get("baseline")
    print(f"machine: {os.cpu_count()} CPUs; numba cache: the environment's own (warm unless the venv is fresh)")
    for name, f in figures.items():
        extra = f" ref {f['ref']}" if "ref" in f else (f" ({f['note']})" if "note" in f else "")
        if "wall" in f:
            print(f"{name}{extra}: wall {f['wall']:.1f} s, load before {f['load_before']}, after {f['load_after']}")
        else:
            print(f"{name}{extra}: {f['dir']}")
    keys = list(this["stages"]) + [k for k in (base or {}).get("stages", {}) if k not in this["stages"]]
    width = max(len(k) for k in keys)
    head = f"{'stage':<{width}}  {'this':>9}" + (f"  {'baseline':>9}  {'ratio':>6}" if base else "")
    print(head)
    for k in keys:
        a = this["stages"].get(k)
        line = f"{k:<{width}}  {a:>9.1f}" if a is not None else f"{k:<{width}}  {'-':>9}"
        if base:
            b = base["stages"].get(k)
            line += f"  {b:>9.1f}" if b is not None else f"  {'-':>9}"
            line += f"  {a / b:>6.2f}" if a is not None and b else f"  {'':>6}"
        print(line)
    if base and "wall" in this and "wall" in base:
        print(f"wall ratio this / baseline: {this['wall'] / base['wall']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
