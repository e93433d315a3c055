"""Dual-encoder contrastive training throughput: the harness's path against a plain baseline.

Workload: InfoNCE with in-batch negatives over (query, passage) pairs, one shared encoder
(``L = -1/B sum_i log softmax_j(q_i . p_j / 0.05)_i``, mean pooling, L2 normalisation),
plain Hugging Face ``BertModel`` at mBERT size (119,547-token vocabulary, 12 layers, 768
wide, SDPA attention, random initialisation: throughput does not depend on the weights),
batch 128, 32-token queries, passages with the MIRACL-like lengths of
:func:`_gpu_common.miracl_like_lengths` (mean ~85 tokens, ~3 % at the 256 cap).

Variants, all in one process on the same model shapes:

* ``plain_padded_max`` (the baseline; the setup of the measurements this project started
  from): fp32 weights + bf16 autocast, eager, fused AdamW, random batches padded to 256,
  a bare loop timed with CUDA events (median of ``--steps`` after ``--warmup``).  Run
  first and again last, so the spread between the two is visible.
* ``plain_padded_per_batch``: the same, each random batch padded to its own longest
  passage (expected: no gain, one long passage sets the width of nearly every batch).
* ``harness_padded_max``: the harness's own loop, :func:`harness.training.train` (fused
  AdamW, bf16 autocast, gradient clipping, a non-finite check that reads the loss every
  step) over :class:`harness.models.encoder.BiEncoder`, random batches padded to 256:
  isolates the cost of the harness loop itself.
* ``harness_bucketed``: the same loop over
  :func:`harness.batching.endless_length_bucketed_batches` (sorted within random chunks of
  50 batches, shuffled batch order), each batch padded to its own longest passage, as
  ``BiEncoder.tokenize(padding=True)`` pads.  Nearly every step brings a new width, so
  this first pass pays for whatever the kernels build per shape (on Hopper, PyTorch
  prefers cuDNN attention, which builds an execution graph per shape).
* ``harness_bucketed_warm``: the same batch sequence again (every shape seen before).
* ``harness_bucketed_pad32``: widths rounded up to a multiple of ``--pad-multiple`` (32:
  at most 8 shapes up to 256), the proposed ``pad_to_multiple_of`` in the tokenizer call;
  one untimed forward+backward per possible width first (a once-per-run cost).
* ``plain_bucketed_pad32``: the same batches in the bare loop (no per-step reads of the
  loss, no clipping): the cost of the harness loop in this regime.  For the plain
  variants, ``--profile-steps`` more steps run under ``torch.profiler`` to give the GPU's
  busy (kernel) time per step: far below the wall time means the step waits for the host
  launching kernels, not for the GPU.
* ``..._no_cudnn_sdpa``: the same with cuDNN attention excluded from SDPA's choices
  (:func:`_gpu_common.no_cudnn_sdpa`; flash / memory-efficient kernels need no per-shape
  build).

Reported per variant: real (non-padding) tokens/s, padded tokens/s, median step time,
padding efficiency, and the ratio of real tokens/s to ``plain_padded_max`` (goal >=
1.3x; headline: ``harness_bucketed_pad32``).  Real tokens/s is total real tokens over
total time of the timed steps, so the slow first steps of a shape count.  The harness
loop's step times are host-clock intervals between steps (it synchronises every step),
the plain loop's CUDA events.

Usage::

    python perf/gpu_train_step.py --json out.json        # on a CUDA machine
    python perf/gpu_train_step.py --smoke                # no CUDA: tiny sizes on the CPU
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gpu_common as common  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--query-tokens", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=256, help="passage cap (tokens, specials included)")
    p.add_argument("--passages", type=int, default=25_600, help="training pairs in the simulated dataset")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10, help="timed steps of the fixed-width variants")
    p.add_argument(
        "--bucketed-steps",
        type=int,
        default=100,
        help="timed steps of the bucketed variant (its batches vary in width, so more)",
    )
    p.add_argument("--multiplier", type=int, default=50, help="batches per sorted chunk")
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--pad-multiple", type=int, default=32, help="round bucketed widths up to a multiple of this")
    p.add_argument(
        "--profile-steps",
        type=int,
        default=5,
        help="CUDA only: steps of each plain variant run under torch.profiler for GPU busy time (0: none)",
    )
    p.add_argument(
        "--only",
        default="",
        help="comma-separated variant names to run (default: all); plain_padded_max is always run (the baseline)",
    )
    common.add_common_arguments(p)
    args = p.parse_args(argv)

    device = common.device_or_skip(args)
    if device is None:
        return 0
    if device == "cpu":  # --smoke: same code, tiny sizes
        args.batch, args.query_tokens, args.max_tokens, args.passages = 8, 8, 64, 8 * 4 * 6
        args.warmup, args.steps, args.bucketed_steps, args.multiplier, args.pad_multiple = 1, 2, 4, 4, 8

    import torch

    from harness.batching import endless_length_bucketed_batches, padding_efficiency
    from harness.models.encoder import BiEncoder
    from harness.training import info_nce, shuffled_batches, train

    cuda = device == "cuda"
    rng = np.random.default_rng(args.seed)
    config = common.bert_config(tiny=not cuda)
    vocab = config.vocab_size
    median = 69.0 if args.max_tokens >= 256 else args.max_tokens / 3
    lengths = common.miracl_like_lengths(args.passages, rng, median=median, high=args.max_tokens)
    p_ids, p_mask = common.random_token_ids(lengths, args.max_tokens, vocab, rng)
    q_len = np.full(args.passages, args.query_tokens)
    q_ids, q_mask = common.random_token_ids(q_len, args.query_tokens, vocab, rng)
    P_ids, P_mask = torch.as_tensor(p_ids, device=device), torch.as_tensor(p_mask, device=device)
    Q_ids, Q_mask = torch.as_tensor(q_ids, device=device), torch.as_tensor(q_mask, device=device)
    B, qt = args.batch, args.query_tokens

    def features(idx: np.ndarray, per_batch: bool, multiple: int = 1):
        """Query and passage features of the pairs ``idx``; passages cut to the batch's width
        (its longest passage, rounded up to a multiple of ``multiple``), or to the cap."""
        width = args.max_tokens
        if per_batch:
            width = min(args.max_tokens, -(-int(lengths[idx].max()) // multiple) * multiple)
        t = torch.as_tensor(idx, device=device)
        q = {"input_ids": Q_ids[t], "attention_mask": Q_mask[t]}  # (B, qt)
        d = {"input_ids": P_ids[t, :width], "attention_mask": P_mask[t, :width]}  # (B, width)
        real = len(idx) * qt + int(lengths[idx].sum())
        padded = len(idx) * (qt + width)
        return q, d, real, padded

    only = {x.strip() for x in args.only.split(",") if x.strip()}

    def wanted(name: str) -> bool:
        return not only or name in only or name.startswith("plain_padded_max")

    base = common.make_bert(config, device, args.seed)
    base.train()
    results: dict[str, dict] = {}

    def prewarm(multiple: int) -> None:
        """One untimed forward+backward at each width a rounded bucketed run can meet
        (``multiple``, ``2 * multiple``, ... up to the cap), so per-shape set-up (cuDNN
        attention graphs, GEMM heuristics) is paid before timing, as it is once per
        training run.  Gradients are discarded."""
        idx = np.arange(B)
        for width in sorted({min(args.max_tokens, w) for w in range(multiple, args.max_tokens + multiple, multiple)}):
            t = torch.as_tensor(idx, device=device)
            q = {"input_ids": Q_ids[t], "attention_mask": Q_mask[t]}
            d = {"input_ids": P_ids[t, :width], "attention_mask": P_mask[t, :width]}
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=cuda):
                loss = base(**q).last_hidden_state.float().mean() + base(**d).last_hidden_state.float().mean()
            loss.backward()
            base.zero_grad(set_to_none=True)
        common.sync(device)

    # ------------------------------------------------------------------ plain loop
    def plain(name: str, per_batch: bool, bucketed: bool = False, multiple: int = 1) -> None:
        if not wanted(name):
            return
        model = base
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, fused=cuda or None)
        if bucketed:
            batches = endless_length_bucketed_batches(
                lengths, B, np.random.default_rng(args.seed + 2), bucket_size_multiplier=args.multiplier
            )
        else:
            batches = shuffled_batches(args.passages, B, np.random.default_rng(args.seed + 1))
        counts: list[tuple[int, int]] = []

        def embed(f):
            h = model(**f).last_hidden_state  # (B, L, H)
            m = f["attention_mask"].unsqueeze(-1).to(h.dtype)
            return torch.nn.functional.normalize(((h * m).sum(1) / m.sum(1)).float(), dim=-1)  # (B, H)

        def step():
            q, d, real, padded = features(next(batches), per_batch, multiple)
            counts.append((real, padded))
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=cuda):
                eq, ed = embed(q), embed(d)
                loss = torch.nn.functional.cross_entropy(eq @ ed.T / 0.05, torch.arange(len(eq), device=device))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        n = args.bucketed_steps if bucketed else args.steps
        if bucketed and multiple > 1:
            prewarm(multiple)
        secs = common.event_times(step, args.warmup, n, device)
        record(name, secs, counts[args.warmup :], "plain loop, CUDA events")
        if cuda and args.profile_steps:
            before = len(counts)
            try:
                busy = common.gpu_busy_seconds(step, args.profile_steps)
            except Exception as e:  # the profiler is a diagnostic: never lose the timings for it
                results[name]["gpu_busy_error"] = repr(e)
            else:
                results[name]["gpu_busy_ms_per_step"] = round(1e3 * busy / args.profile_steps, 3)
                results[name]["profiled_padded_tokens_per_step"] = round(
                    sum(c[1] for c in counts[before:]) / args.profile_steps
                )
                print(
                    f"  {'':36s} GPU busy {results[name]['gpu_busy_ms_per_step']:.2f} ms per step "
                    f"(kernel time, profiler, {args.profile_steps} steps)",
                    flush=True,
                )
        opt = None  # free the optimizer state (step() is not called again)

    # ------------------------------------------------------------------ harness loop
    def harness(name: str, bucketed: bool, steps: int, multiple: int = 1) -> None:
        if not wanted(name):
            return
        enc = BiEncoder(base, tokenizer=None, pooling="mean", normalize=True, max_length=args.max_tokens)
        order_rng = np.random.default_rng(args.seed + 2)
        if bucketed:
            batches = endless_length_bucketed_batches(lengths, B, order_rng, bucket_size_multiplier=args.multiplier)
        else:
            batches = shuffled_batches(args.passages, B, order_rng)
        counts: list[tuple[int, int]] = []
        if bucketed and multiple > 1:
            prewarm(multiple)

        def loss_fn(idx):
            q, d, real, padded = features(idx, per_batch=bucketed, multiple=multiple)
            counts.append((real, padded))
            return info_nce(enc(q), enc(d), 0.05)

        clock = common.StepClock(loss_fn)
        train(
            enc,
            batches,
            clock,
            steps=args.warmup + steps + 1,
            lr=args.lr,
            method=name,
            seed=args.seed,
            device=device,
            warmup=0.0,
        )
        common.sync(device)
        record(
            name,
            clock.step_seconds(args.warmup),
            counts[args.warmup : args.warmup + steps],
            "harness.training.train, host clock between steps",
        )

    def record(name: str, secs: list[float], counts: list[tuple[int, int]], timing: str) -> None:
        total = sum(secs)
        real = sum(c[0] for c in counts)
        padded = sum(c[1] for c in counts)
        results[name] = {
            **common.stats_ms(secs),
            "real_tokens_per_s": round(real / total),
            "padded_tokens_per_s": round(padded / total),
            "padding_efficiency": round(real / padded, 4),
            "timing": timing,
        }
        r = results[name]
        print(
            f"  {name:36s} step {r['median_ms']:8.2f} ms (median of {r['n']})  real {r['real_tokens_per_s']:>10,d} tok/s"
            f"  padded {r['padded_tokens_per_s']:>10,d} tok/s  efficiency {r['padding_efficiency']:.3f}",
            flush=True,
        )

    print(
        f"contrastive training step, B={B}, {qt}-token queries, passages <= {args.max_tokens} tokens, "
        f"{config.num_hidden_layers} layers x {config.hidden_size}, vocab {vocab}, attention "
        f"{common.attn_implementation(base)}, {device}",
        flush=True,
    )
    plain("plain_padded_max", per_batch=False)
    plain("plain_padded_per_batch", per_batch=True)
    plain(f"plain_bucketed_pad{args.pad_multiple}", per_batch=True, bucketed=True, multiple=args.pad_multiple)
    with common.no_cudnn_sdpa():
        plain("plain_padded_max_no_cudnn_sdpa", per_batch=False)
    harness("harness_padded_max", bucketed=False, steps=args.steps)
    # Bucketed batches have a new width almost every step at first: the first pass pays for
    # whatever the kernels build per shape (e.g. cuDNN attention graphs); the second pass
    # over the same batch sequence ("_warm") has seen every shape.
    harness("harness_bucketed", bucketed=True, steps=args.bucketed_steps)
    harness("harness_bucketed_warm", bucketed=True, steps=args.bucketed_steps)
    harness(
        f"harness_bucketed_pad{args.pad_multiple}", bucketed=True, steps=args.bucketed_steps, multiple=args.pad_multiple
    )
    with common.no_cudnn_sdpa():
        harness("harness_bucketed_no_cudnn_sdpa", bucketed=True, steps=args.bucketed_steps)
        harness(
            f"harness_bucketed_pad{args.pad_multiple}_no_cudnn_sdpa",
            bucketed=True,
            steps=args.bucketed_steps,
            multiple=args.pad_multiple,
        )
    plain("plain_padded_max_again", per_batch=False)

    base_tps = results["plain_padded_max"]["real_tokens_per_s"]
    again_tps = results["plain_padded_max_again"]["real_tokens_per_s"]
    ratios = {name: round(r["real_tokens_per_s"] / base_tps, 3) for name, r in results.items()}
    pad_name = f"harness_bucketed_pad{args.pad_multiple}"
    ratio = ratios.get(pad_name, float("nan"))
    bucket_eff = padding_efficiency(
        lengths,
        list(
            itertools.islice(
                endless_length_bucketed_batches(
                    lengths, B, np.random.default_rng(9), bucket_size_multiplier=args.multiplier
                ),
                args.passages // B,
            )
        ),
    )
    out = {
        "benchmark": "gpu_train_step",
        "environment": common.environment(device),
        "smoke": device == "cpu",
        "setup": {
            "batch": B,
            "query_tokens": qt,
            "max_tokens": args.max_tokens,
            "passages": args.passages,
            "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "vocab": vocab,
            "attention": common.attn_implementation(base),
            "lr": args.lr,
            "multiplier": args.multiplier,
            "passage_lengths": common.length_summary(lengths),
            "bucketed_padding_efficiency_one_epoch": round(bucket_eff, 4),
        },
        "variants": results,
        "baseline_repeat_spread": round(abs(again_tps - base_tps) / base_tps, 4),
        "ratios_real_tokens_vs_plain_padded_max": ratios,
        "headline": f"{pad_name} vs plain_padded_max, real tokens/s",
        "goal": ">= 1.3x real tokens/s",
        "goal_met": None if device == "cpu" else bool(ratio >= 1.3),
    }
    for name, r in ratios.items():
        print(f"  ratio real tokens/s {name} / plain_padded_max: {r:.2f}x")
    print(
        f"  headline {pad_name}: {ratio:.2f}x (goal >= 1.3x)"
        + ("  [smoke: not a measurement]" if device == "cpu" else ""),
        flush=True,
    )
    common.emit(out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
