"""Does memory stay bounded by a shard, and time grow linearly, as a MIRACL corpus grows?

For each size (default 100k and 1M passages; more with ``--sizes``) the script writes a
MIRACL-format corpus where ir_datasets keeps ``miracl/yo/dev`` (``yo``'s corpus is one
``docs-1.jsonl.gz`` file; passages are short, ~10 words) with 200 judged queries, then runs
the zero-shot stage in a **fresh child process**: ir_datasets' own ``miracl/yo/dev`` id read
by :class:`~harness.benchmarks.miracl.MiraclBenchmark` (streamed, ``iter_corpus``), a tiny
saved BERT (1 layer, hidden 32) as the encoder, the cached on-disk document index
(:func:`harness.index.dense_run`, fp16, 65,536-passage shards) and sharded exact search.
It prints the child's wall time and its peak RSS (``ru_maxrss`` of the child from
``os.wait4``: the child is one process, so this is the whole tree's peak), and the ratios
of the largest size to the smallest: peak RSS (target <= 1.25) and time per passage
(target <= 1.3).

Then, at the largest size, it starts the same child on an empty cache, SIGKILLs it once
half the shards are committed, runs it again, and reports how many passages the resumed
run encoded and whether its per-query scores equal those of the uninterrupted run.

Then, on the largest size's index, it measures what verifying every read costs
(:func:`harness.index.read_verified`: each shard hashed block by block as it is read):
the same sharded search over the same queries, once over memory-mapped, unverified shards
(the reader before issue 25) and once through ``DocIndex.iter_shards`` (verified), in
alternation, ``--read-repeats`` times each; it prints the medians and their ratio, for the
read alone and for read + search (files in the page cache, as after a build).

Run through the machine lock, e.g. ``/work/tools/heavy python perf/bench_scale.py``
(``--sizes 20000 200000`` for a quicker check; ``--threads`` torch threads, default 1).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_WORDS = 2000
N_QUERIES = 200


def write_miracl(home: Path, n: int, seed: int = 0) -> None:
    """``miracl/yo/dev`` in ir_datasets' layout: ``n`` passages, ``N_QUERIES`` judged queries."""
    import numpy as np

    g = np.random.default_rng(seed)
    base = home / "miracl" / "v1.0" / "yo"
    (base / "dev").mkdir(parents=True, exist_ok=True)
    (base / "docs").mkdir(parents=True, exist_ok=True)
    words = np.array([f"w{i}" for i in range(N_WORDS)])
    block = 100_000
    with gzip.open(base / "docs" / "docs-1.jsonl.gz", "wt", compresslevel=1) as f:
        for s in range(0, n, block):
            m = min(block, n - s)
            toks = words[g.integers(0, N_WORDS, size=(m, 10))]
            f.write(
                "".join(
                    json.dumps({"docid": f"{s + j}#0", "title": "", "text": " ".join(toks[j])}) + "\n" for j in range(m)
                )
            )
    qdocs = g.choice(n, size=N_QUERIES, replace=False)
    with open(base / "dev" / "topics.tsv", "w") as f:
        for qi in range(N_QUERIES):
            f.write(f"{qi}\t{' '.join(words[g.integers(0, N_WORDS, 4)])}\n")
    with open(base / "dev" / "qrels.tsv", "w") as f:
        for qi, d in enumerate(qdocs):
            f.write(f"{qi}\tQ0\t{d}#0\t1\n")


def save_tiny_bert(path: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from harness.models.encoder import BiEncoder

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(N_WORDS)]
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertModel(cfg).eval()
    BiEncoder(model, tok, pooling="mean", max_length=16).save_pretrained(path)
    return path


def child(args) -> None:
    """One zero-shot retrieval of ``miracl/yo/dev`` through the index stage; scores to --out."""
    import torch

    from harness.benchmarks.miracl import MiraclBenchmark
    from harness.corpus import topics
    from harness.index import dense_run
    from harness.models.encoder import BiEncoder

    torch.set_num_threads(args.threads)
    bench = MiraclBenchmark({"languages": ["yo"], "split": "dev"})
    enc = BiEncoder.from_pretrained(args.model)
    top = topics(bench, "yo")
    t0 = time.perf_counter()
    (run,) = dense_run(enc, bench, "yo", [dict(top.queries)], 100, root=Path(args.cache), shard_size=args.shard_size)
    Path(args.out).write_text(json.dumps({"seconds": time.perf_counter() - t0, "run": run}))


def run_child(
    home: Path, model: Path, cache: Path, out: Path, threads: int, shard_size: int, kill_after_shards: int | None = None
) -> dict:
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "IR_DATASETS_DL_TRIES": "1"}
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--model",
        str(model),
        "--cache",
        str(cache),
        "--out",
        str(out),
        "--threads",
        str(threads),
        "--shard-size",
        str(shard_size),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    killed = False
    if kill_after_shards is not None:
        while proc.poll() is None:
            done = list(cache.glob("docindex/*/shard-*.json"))
            if len(done) >= kill_after_shards:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if not killed and rc != 0:
        raise SystemExit(f"child failed with exit code {rc}")
    return {"wall": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "killed": killed}


def measure_reads(cache: Path, repeats: int, n_queries: int = N_QUERIES) -> None:
    """Median seconds of reading (and searching) the index in ``cache``: unverified memory maps vs verified reads."""
    import statistics

    import numpy as np
    import torch

    from harness.index import DocIndex, _record_file
    from harness.search import DocShard, sharded_search

    idx = DocIndex(next(cache.glob("docindex/*/index.json")).parent)

    def mapped():  # the reader before issue 25: memory maps, sizes checked at open, contents never
        for r in idx.shards:
            emb = np.load(idx.path / _record_file(r, "emb"), mmap_mode="r")
            ids = np.asarray(np.load(idx.path / _record_file(r, "ids"), mmap_mode="r"))
            yield DocShard(emb, ids, r.offset)

    def read_all(shards) -> None:  # what search does with a shard before multiplying: have it in memory
        for sh in shards():
            if isinstance(sh.embeddings, np.memmap):
                np.array(sh.embeddings)

    g = np.random.default_rng(1)
    q = torch.nn.functional.normalize(
        torch.from_numpy(g.standard_normal((n_queries, idx.dim)).astype(np.float32)), dim=-1
    )
    times: dict[str, list[float]] = {
        k: [] for k in ("read mapped", "read verified", "search mapped", "search verified")
    }
    results = {}
    for _ in range(repeats):
        for name, shards in (("mapped", mapped), ("verified", idx.iter_shards)):
            t0 = time.perf_counter()
            read_all(shards)
            times[f"read {name}"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            results[name] = sharded_search(q, shards, 100)
            times[f"search {name}"].append(time.perf_counter() - t0)
    same = all(np.array_equal(a, b) for a, b in zip(results["mapped"], results["verified"]))
    med = {k: statistics.median(v) for k, v in times.items()}
    size = sum(int(f["size"]) for r in idx.shards for f in r.files.values())
    print(
        f"verified reads, {idx.n_docs:,} passages, {len(idx.shards)} shards, {size / 2**20:.1f} MiB, median of "
        f"{repeats}: read {med['read mapped']:.3f} s mapped vs {med['read verified']:.3f} s verified "
        f"({med['read verified'] / med['read mapped']:.2f}x); read + search of {n_queries} queries "
        f"{med['search mapped']:.3f} s vs {med['search verified']:.3f} s "
        f"({med['search verified'] / med['search mapped']:.3f}x); identical results: {same}; "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shard-size", type=int, default=65536)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--no-kill", action="store_true", help="skip the SIGKILL/resume check")
    ap.add_argument("--read-repeats", type=int, default=5, help="repeats of the verified-read measurement (0: skip)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    model = save_tiny_bert(work / "tiny-bert")
    print(f"load: {os.getloadavg()[0]:.2f} (1-min) at start; threads {args.threads}; shard {args.shard_size}")
    rows = []
    for n in args.sizes:
        home = work / f"home-{n}"
        t0 = time.perf_counter()
        write_miracl(home, n)
        t_write = time.perf_counter() - t0
        r = run_child(home, model, work / f"cache-{n}", work / f"scores-{n}.json", args.threads, args.shard_size)
        inner = json.loads((work / f"scores-{n}.json").read_text())["seconds"]
        rows.append((n, r["wall"], inner, r["peak_rss_mb"]))
        print(
            f"{n:>10,} passages: write {t_write:6.1f} s | child wall {r['wall']:7.1f} s (index+search {inner:7.1f} s, "
            f"{1e6 * inner / n:6.1f} us/passage) | peak RSS {r['peak_rss_mb']:7.1f} MB | "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    (n0, _, s0, m0), (n1, _, s1, m1) = rows[0], rows[-1]
    print(
        f"ratio {n1:,} vs {n0:,}: peak RSS {m1 / m0:.3f}x (target <= 1.25), "
        f"time per passage {(s1 / n1) / (s0 / n0):.3f}x (target <= 1.3)"
    )
    if args.read_repeats:
        measure_reads(work / f"cache-{args.sizes[-1]}", args.read_repeats)
    if args.no_kill:
        return
    n = args.sizes[-1]
    n_shards = -(-n // args.shard_size)
    cache = work / f"cache-kill-{n}"
    r = run_child(
        work / f"home-{n}",
        model,
        cache,
        work / "scores-killed.json",
        args.threads,
        args.shard_size,
        kill_after_shards=max(1, n_shards // 2),
    )
    print(
        f"SIGKILL after {max(1, n_shards // 2)} of {n_shards} shards committed (killed={r['killed']}, "
        f"{r['wall']:.1f} s in)"
    )
    r2 = run_child(work / f"home-{n}", model, cache, work / "scores-resumed.json", args.threads, args.shard_size)
    meta = json.loads(next(cache.glob("docindex/*/index.json")).read_text())
    same = (
        json.loads((work / "scores-resumed.json").read_text())["run"]
        == json.loads((work / f"scores-{n}.json").read_text())["run"]
    )
    print(
        f"resumed run: {r2['wall']:.1f} s; encoded {meta['encoded']:,} passages, reused {meta['reused']:,} "
        f"from finished shards; per-query scores identical to the uninterrupted run: {same}"
    )


if __name__ == "__main__":
    main()
