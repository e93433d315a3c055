"""Memory of the ``local`` adapter: a corpus streamed (``iter_corpus`` + ``topics``) vs loaded whole.

Writes a local-format language (``corpus.tsv`` of ``--docs`` passages of ~10 words, 200
judged queries), then, each in a **fresh child process**, reads it three ways and prints
the child's wall time and peak RSS (``VmHWM`` of ``/proc/self/status``, read by the child
at its end: the high-water mark of its own memory since ``exec``, unlike ``ru_maxrss``,
which Linux carries over from the forked copy of this parent):

* ``imports``  -- the baseline: the adapter and ir_datasets' readers imported, nothing read;
* ``loaded``   -- ``language_data`` (the whole corpus as a dict, as before issue 12) and
  one pass over it in 65,536-passage shards;
* ``streamed`` -- ``topics`` (queries and qrels checked against one pass over the ids) and
  one pass over ``iter_corpus`` in 65,536-passage shards (what the index stage does).

It prints ``streamed / loaded`` of the peak RSS above the baseline (the memory the corpus
costs); with streaming it should stay near one shard's texts plus 8 bytes per passage (the
duplicate-id hashes), however large the corpus.

``/work/tools/heavy python perf/bench_local_stream.py [--docs 300000]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_QUERIES = 200


def write_local(d: Path, n: int, seed: int = 0) -> dict:
    """A local-format language ``xx`` under ``d``; returns the benchmark options."""
    import numpy as np

    g = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(2000)])
    with open(d / "corpus.tsv", "w") as f:
        for s in range(0, n, 100_000):
            m = min(100_000, n - s)
            toks = words[g.integers(0, len(words), size=(m, 10))]
            f.write("".join(f"d{s + j}\t{' '.join(toks[j])}\n" for j in range(m)))
    judged = g.choice(n, size=N_QUERIES, replace=False)
    (d / "queries.tsv").write_text("".join(f"q{i}\tquery {i}\n" for i in range(N_QUERIES)))
    (d / "qrels.txt").write_text("".join(f"q{i} 0 d{j} 1\n" for i, j in enumerate(judged)))
    files = {k: str(d / f) for k, f in (("corpus", "corpus.tsv"), ("queries", "queries.tsv"), ("qrels", "qrels.txt"))}
    return {"languages": {"xx": {**files, "tier": "low"}}, "pivot": "en"}


def child(mode: str, data: Path) -> None:
    import json

    import ir_datasets.formats  # noqa: F401 - in the baseline too

    from harness.benchmarks.local import LocalBenchmark
    from harness.corpus import iter_shards

    bench = LocalBenchmark(json.loads((data / "options.json").read_text()), base_dir=data)
    n = 0
    if mode == "loaded":
        docs = iter(bench.language_data("xx").corpus.items())
    elif mode == "streamed":
        bench.topics("xx")
        docs = bench.iter_corpus("xx")
    else:
        docs = iter(())
    for ids, _texts in iter_shards(docs, 65536):
        n += len(ids)
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"passages": n, "peak_rss_mb": int(hwm.split()[1]) / 1024}))


def run_child(mode: str, data: Path) -> dict:
    import json

    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--data", str(data)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed: {out.stderr[-2000:]}")
    return {"wall": time.perf_counter() - t0, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=300_000)
    ap.add_argument("--child", choices=["imports", "loaded", "streamed"])
    ap.add_argument("--data", type=Path)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.data)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        (data / "options.json").write_text(json.dumps(write_local(data, args.docs)))
        size = (data / "corpus.tsv").stat().st_size / 2**20
        print(f"corpus: {args.docs:,} passages, {size:.1f} MiB")
        got = {m: run_child(m, data) for m in ("imports", "loaded", "streamed")}
    for m, r in got.items():
        print(f"{m:>9}: {r['passages']:>9,} passages  wall {r['wall']:6.1f} s  peak RSS {r['peak_rss_mb']:7.1f} MB")
    base = got["imports"]["peak_rss_mb"]
    above = {m: got[m]["peak_rss_mb"] - base for m in ("loaded", "streamed")}
    print(
        f"peak RSS above the imports baseline: loaded {above['loaded']:.1f} MB, streamed {above['streamed']:.1f} MB; "
        f"streamed / loaded = {above['streamed'] / above['loaded']:.3f}"
    )


if __name__ == "__main__":
    main()
