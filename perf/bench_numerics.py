"""What pinning torch's CPU kernels costs, and whether it changes the numbers, on this machine.

The workload is the embedded ``mini`` encoder at its default size (``MiniOptions()``: a
2-layer, 128-wide BERT, 8,000-token vocabulary, 64-token texts) on one torch thread, as
every trained stage runs by default (``training.num_threads = 1``):

* ``train``: a contrastive training step (InfoNCE over in-batch negatives at temperature
  0.05, mean pooling, L2 normalisation, AdamW), batch 32 query/passage pairs;
* ``encode``: a no-grad forward of 256 texts with mean pooling (an index build's unit).

Token ids are drawn from a seeded generator, so every setting computes on the same inputs.
Each setting runs in its own fresh process (the variables are read when torch first
dispatches a kernel), and the settings are interleaved (``--repeats`` rounds of A, B, C) so
that drift of the host's speed falls on all of them:

* ``default``: nothing set (this machine: ``AVX512`` ATen kernels, MKL/oneDNN's own choice);
* ``avx2``: ``ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2`` (the three
  knobs that cap torch's CPU kernels at AVX2; what issue #25 tried);
* ``generic``: ``ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41``
  (ATen's scalar/compiler-vectorised kernels, MKL's compatible path, oneDNN at SSE4.1).

Reported per setting: the capability torch reports, median seconds per train step and per
encode batch, their ratio to ``default`` (medians over rounds of each round's median), and
sha256 digests of the weights after the steps and of the embeddings, so one can see whether
a setting changes the bits.  The load average is printed before and after.

Usage::

    /work/bin/heavy python perf/bench_numerics.py --json perf/results/numerics.json
    python perf/bench_numerics.py --smoke        # seconds: tiny sizes, one round (tests the script)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SETTINGS: dict[str, dict[str, str]] = {
    "default": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "generic": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}


def child(steps: int, batches: int, smoke: bool) -> dict[str, Any]:
    """One setting, in this (fresh) process: time the train steps and encode batches, digest the results."""
    import numpy as np
    import torch
    from transformers import BertModel

    from harness.models.mini import MiniOptions, bert_config
    from harness.numerics import numerics_environment

    torch.set_num_threads(1)
    opts = MiniOptions(hidden=32, heads=2, layers=1, vocab_size=500) if smoke else MiniOptions()
    length, batch, enc_batch = (16, 8, 16) if smoke else (opts.max_length, 32, 256)
    torch.manual_seed(0)
    model = BertModel(bert_config(opts, opts.vocab_size), add_pooling_layer=False)
    model.train()
    rng = np.random.default_rng(0)

    def ids(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        lens = rng.integers(length // 4, length + 1, n)
        x = np.zeros((n, length), dtype=np.int64)
        for i, k in enumerate(lens):
            x[i, :k] = rng.integers(5, opts.vocab_size, k)
            x[i, 0], x[i, k - 1] = 2, 3  # [CLS] ... [SEP]
        return torch.from_numpy(x), torch.from_numpy((x > 0).astype(np.int64))

    def embed(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = model(input_ids=x, attention_mask=mask).last_hidden_state  # (B, L, H)
        m = mask.unsqueeze(-1).to(h.dtype)
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)  # (B, H)

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    data = [(ids(batch), ids(batch)) for _ in range(steps + 2)]
    train_times = []
    for i, ((q, qm), (p, pm)) in enumerate(data):
        t = time.perf_counter()
        scores = embed(q, qm) @ embed(p, pm).T / 0.05  # (B, B)
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:  # two warm-up steps
            train_times.append(time.perf_counter() - t)
    weights = hashlib.sha256()
    for _, v in sorted(model.state_dict().items()):
        weights.update(v.detach().contiguous().numpy().tobytes())

    model.eval()
    texts = [ids(enc_batch) for _ in range(batches + 1)]
    enc_times, emb = [], hashlib.sha256()
    with torch.inference_mode():
        for i, (x, m) in enumerate(texts):
            t = time.perf_counter()
            e = embed(x, m)
            if i >= 1:
                enc_times.append(time.perf_counter() - t)
            emb.update(e.numpy().tobytes())
    env = numerics_environment()
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "summary": env["summary"],
        "train_step_s": statistics.median(train_times),
        "encode_batch_s": statistics.median(enc_times),
        "final_loss": float(loss.item()),
        "weights_sha256": weights.hexdigest(),
        "embeddings_sha256": emb.hexdigest(),
    }


def run_setting(name: str, steps: int, batches: int, smoke: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in {k2 for s in SETTINGS.values() for k2 in s}}
    env.update(SETTINGS[name])
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--child", "--steps", str(steps), "--batches", str(batches)]
    out = subprocess.run(cmd + (["--smoke"] if smoke else []), env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30, help="timed train steps per process")
    ap.add_argument("--batches", type=int, default=10, help="timed encode batches per process")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds over the settings")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one round")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.steps, args.batches, args.smoke)))
        return 0
    if args.smoke:
        args.steps, args.batches, args.repeats = 3, 2, 1
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in SETTINGS}
    for _ in range(args.repeats):
        for name in SETTINGS:
            rounds[name].append(run_setting(name, args.steps, args.batches, args.smoke))
    load_after = os.getloadavg()
    base_train = statistics.median(r["train_step_s"] for r in rounds["default"])
    base_enc = statistics.median(r["encode_batch_s"] for r in rounds["default"])
    ref = rounds["default"][0]
    results = {}
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f}"
    )
    print(f"environment (default): {ref['summary']}")
    print(
        f"{'setting':8} {'capability':10} {'train s/step':>12} {'ratio':>6} {'encode s/batch':>14} {'ratio':>6}  bits vs default"
    )
    for name, rs in rounds.items():
        train = statistics.median(r["train_step_s"] for r in rs)
        enc = statistics.median(r["encode_batch_s"] for r in rs)
        stable = len({(r["weights_sha256"], r["embeddings_sha256"]) for r in rs}) == 1
        same_w = rs[0]["weights_sha256"] == ref["weights_sha256"]
        same_e = rs[0]["embeddings_sha256"] == ref["embeddings_sha256"]
        bits = (
            f"weights {'same' if same_w else 'DIFFER'}, embeddings {'same' if same_e else 'DIFFER'}"
            f"{'' if stable else ' (NOT stable across rounds)'}"
        )
        print(
            f"{name:8} {rs[0]['cpu_capability']:10} {train:12.4f} {train / base_train:6.2f} {enc:14.4f} "
            f"{enc / base_enc:6.2f}  {bits}"
        )
        results[name] = {
            "env": SETTINGS[name],
            "cpu_capability": rs[0]["cpu_capability"],
            "train_step_s": train,
            "train_ratio_to_default": train / base_train,
            "encode_batch_s": enc,
            "encode_ratio_to_default": enc / base_enc,
            "weights_same_as_default": same_w,
            "embeddings_same_as_default": same_e,
            "stable_across_rounds": stable,
            "final_loss": rs[0]["final_loss"],
            "rounds": rs,
        }
    if args.json:
        record = {
            "load_before": load_before,
            "load_after": load_after,
            "steps": args.steps,
            "batches": args.batches,
            "repeats": args.repeats,
            "environment": ref["summary"],
            "settings": results,
        }
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
