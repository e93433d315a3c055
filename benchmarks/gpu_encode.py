"""Inference encoding throughput on realistic passage lengths: the harness against padding to 256.

Workload: embed ``--passages`` texts (mean-pooled, L2-normalised last layer) with a plain
Hugging Face ``BertModel`` at mBERT size (random initialisation, SDPA attention), texts of
random words from a word-level tokenizer over the same 119,547-token vocabulary, one token
per word, so each text has exactly the token count drawn from the MIRACL-like distribution
of :func:`_gpu_common.miracl_like_lengths` (mean ~85 tokens, ~3 % at the 256 cap).
Everything from the list of strings to float32 embeddings on the host is timed:
tokenisation, host-to-device copies, the forward pass, pooling, copies back.

Variants, all in one process, batch 256:

* ``baseline_fp16_padded_max`` (the baseline; the setup of the 8.8k passages/s figure this
  project started from): fp16 weights, texts in input order, every batch padded to 256.
* ``baseline_autocast_padded_max``: fp32 weights under bf16 autocast, padded to 256 (the
  harness's precision with the baseline's padding: separates precision from padding).
* ``harness_encode`` (the harness path): :meth:`harness.models.encoder.BiEncoder.encode`
  as it is: texts sorted by token length, each batch padded to its longest text, fp32
  weights under bf16 autocast, results back in input order.
* ``harness_encode_bf16_weights``: the same call with the model's weights cast to bf16
  (``encoder.model.to(torch.bfloat16)``): what an inference-dtype option would give.

Reported: passages/s (median of ``--repeats`` full passes after a warm-up pass over a
subset), and the largest deviation of each variant's embeddings from an fp32 reference on
the first 512 texts.  Headline: ``harness_encode`` over ``baseline_fp16_padded_max``
(goal >= 2x).

Usage::

    python benchmarks/gpu_encode.py --json out.json      # on a CUDA machine
    python benchmarks/gpu_encode.py --smoke              # no CUDA: tiny sizes on the CPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gpu_common as common  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--passages", type=int, default=16_384)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup-passages", type=int, default=2048)
    common.add_common_arguments(p)
    args = p.parse_args(argv)

    device = common.device_or_skip(args)
    if device is None:
        return 0
    if device == "cpu":
        args.passages, args.batch_size, args.max_tokens, args.repeats, args.warmup_passages = 96, 16, 64, 1, 32

    import torch

    from harness.models.encoder import BiEncoder

    cuda = device == "cuda"
    rng = np.random.default_rng(args.seed)
    config = common.bert_config(tiny=not cuda)
    vocab = config.vocab_size
    median = 69.0 if args.max_tokens >= 256 else args.max_tokens / 3
    lengths = common.miracl_like_lengths(args.passages, rng, median=median, high=args.max_tokens)
    t0 = time.perf_counter()
    texts = common.texts_with_lengths(lengths, vocab, rng)
    make_s = time.perf_counter() - t0
    tok = common.word_tokenizer(vocab, max_length=512)
    got = [len(x) for x in tok(texts[:200], truncation=True, max_length=args.max_tokens)["input_ids"]]
    if got != lengths[:200].tolist():
        raise RuntimeError("the word tokenizer does not give the intended token counts")

    model32 = common.make_bert(config, device, args.seed).eval()
    half_dtype = torch.float16 if cuda else torch.float32  # CPU smoke: fp16 kernels are slow or missing
    model16 = common.make_bert(config, device, args.seed).to(half_dtype).eval()
    model_bf = common.make_bert(config, device, args.seed).to(torch.bfloat16 if cuda else torch.float32).eval()

    def pool(h, mask):
        m = mask.unsqueeze(-1).to(h.dtype)
        return torch.nn.functional.normalize(((h * m).sum(1) / m.sum(1).clamp_min(1)).float(), dim=-1)  # (B, H)

    @torch.no_grad()
    def padded_max(model, autocast: bool, items: list[str]) -> torch.Tensor:
        out = torch.empty(len(items), config.hidden_size)
        for s in range(0, len(items), args.batch_size):
            f = tok(items[s:s + args.batch_size], padding="max_length", truncation=True, max_length=args.max_tokens,
                    return_tensors="pt")
            ids, mask = f["input_ids"].to(device), f["attention_mask"].to(device)  # (B, 256)
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast and cuda):
                h = model(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, 256, H)
            out[s:s + len(ids)] = pool(h, mask).cpu()
        return out

    enc32 = BiEncoder(model32, tok, pooling="mean", normalize=True, max_length=args.max_tokens).eval()
    enc_bf = BiEncoder(model_bf, tok, pooling="mean", normalize=True, max_length=args.max_tokens).eval()

    # Token ids once, for the model-path variants (the tokenizer is left out of their timing).
    all_ids = [np.asarray(x, dtype=np.int64) for x in tok(texts, truncation=True, max_length=args.max_tokens)["input_ids"]]

    def id_batches(order: list[int], pad_to_max: bool):
        """Host-padded ``(B, width)`` id and mask tensors on the device, in ``order``."""
        for s in range(0, len(order), args.batch_size):
            idx = order[s:s + args.batch_size]
            width = args.max_tokens if pad_to_max else max(len(all_ids[i]) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, :len(all_ids[i])] = all_ids[i]
            t = torch.from_numpy(ids).to(device)
            yield idx, t, (t != common.PAD).long()

    @torch.no_grad()
    def model_path(forward, autocast: bool, n: int, sort: bool) -> torch.Tensor:
        """Embed the first ``n`` pre-tokenised texts: input order padded to 256, or sorted by
        length and padded per batch (the order and batching of ``BiEncoder.encode``)."""
        order = sorted(range(n), key=lambda i: (len(all_ids[i]), i)) if sort else list(range(n))
        out = torch.empty(n, config.hidden_size)
        for idx, ids, mask in id_batches(order, pad_to_max=not sort):
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast and cuda):
                emb = forward(ids, mask)
            out[idx] = emb.float().cpu()
        return out

    def plain_forward(model):
        return lambda ids, mask: pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)

    def biencoder_forward(enc):
        return lambda ids, mask: enc({"input_ids": ids, "attention_mask": mask})

    @torch.no_grad()
    def encode_tokenize_once(enc, items: list[str]) -> torch.Tensor:
        """Proposed ``BiEncoder.encode``: tokenise once, sort by length, pad each batch on the host."""
        enc.eval()
        ids_list = enc.tokenizer(list(items), truncation=True, max_length=enc.max_length,
                                 return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        order = sorted(range(len(items)), key=lambda i: (len(ids_list[i]), i))
        out = torch.empty(len(items), enc.dim)
        pad_id = enc.tokenizer.pad_token_id
        for s in range(0, len(order), args.batch_size):
            idx = order[s:s + args.batch_size]
            width = len(ids_list[idx[-1]])
            ids = np.full((len(idx), width), pad_id, dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, :len(ids_list[i])] = ids_list[i]
            t = torch.from_numpy(ids).to(enc.device, non_blocking=True)
            mask = torch.from_numpy((np.arange(width)[None] < np.array([len(ids_list[i]) for i in idx])[:, None])
                                    .astype(np.int64)).to(enc.device, non_blocking=True)
            with torch.autocast(device_type=enc.device.type, dtype=torch.bfloat16, enabled=enc.device.type == "cuda"):
                emb = enc({"input_ids": t, "attention_mask": mask})
            out[idx] = emb.float().cpu()
        return out

    n_all = len(texts)
    groups = {
        "model path (pre-tokenised ids; tokenizer not timed)": {
            "baseline_fp16_padded_max": lambda n: model_path(plain_forward(model16), False, n, sort=False),
            "baseline_autocast_padded_max": lambda n: model_path(plain_forward(model32), True, n, sort=False),
            "harness_sorted": lambda n: model_path(biencoder_forward(enc32), True, n, sort=True),
            "harness_sorted_bf16_weights": lambda n: model_path(biencoder_forward(enc_bf), True, n, sort=True),
        },
        "end to end (list of strings -> embeddings on the host)": {
            "e2e_baseline_fp16_padded_max": lambda n: padded_max(model16, False, texts[:n]),
            "e2e_harness_encode": lambda n: enc32.encode(texts[:n], batch_size=args.batch_size),
            "e2e_harness_encode_bf16_weights": lambda n: enc_bf.encode(texts[:n], batch_size=args.batch_size),
            "e2e_tokenize_once_bf16_weights": lambda n: encode_tokenize_once(enc_bf, texts[:n]),
        },
    }

    # fp32 reference on a subset: each text alone, so no padding at all
    n_ref = min(512, len(texts))
    with torch.no_grad():
        ref_rows = []
        for t in texts[:n_ref]:
            ids = tok([t], return_tensors="pt")["input_ids"].to(device)  # (1, n)
            ref_rows.append(pool(model32(input_ids=ids).last_hidden_state.float(), torch.ones_like(ids)))
        ref = torch.cat(ref_rows).cpu()  # (n_ref, H)

    print(f"encoding {args.passages} passages, batch {args.batch_size}, <= {args.max_tokens} tokens, "
          f"{config.num_hidden_layers} layers x {config.hidden_size}, vocab {vocab}, attention "
          f"{common.attn_implementation(model32)}, {device}", flush=True)
    results: dict[str, dict] = {}
    for group, variants in groups.items():
        print(f" {group}", flush=True)
        for name, fn in variants.items():
            fn(min(args.warmup_passages, n_all))
            common.sync(device)
            secs = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                emb = fn(n_all)
                common.sync(device)
                secs.append(time.perf_counter() - t0)
            dev_max = float((emb[:n_ref] - ref).abs().max())
            med = statistics.median(secs)
            results[name] = {"group": group, "passages_per_s": round(n_all / med), "median_s": round(med, 3),
                             "runs_s": [round(s, 3) for s in secs], "max_abs_diff_vs_fp32_unpadded": round(dev_max, 5)}
            print(f"  {name:32s} {results[name]['passages_per_s']:>9,d} passages/s  (median {med:.2f} s of "
                  f"{args.repeats})  max |emb - fp32 ref| {dev_max:.1e}", flush=True)

    t0 = time.perf_counter()
    tok(texts, truncation=True, max_length=args.max_tokens)
    tokenize_s = time.perf_counter() - t0
    def ratio(a: str, b: str) -> float:
        return round(results[a]["passages_per_s"] / results[b]["passages_per_s"], 3)

    ratios = {
        "model_path_harness_sorted_vs_baseline_fp16_padded_max": ratio("harness_sorted", "baseline_fp16_padded_max"),
        "model_path_harness_sorted_bf16_weights_vs_baseline_fp16_padded_max":
            ratio("harness_sorted_bf16_weights", "baseline_fp16_padded_max"),
        "model_path_harness_sorted_vs_baseline_autocast_padded_max":
            ratio("harness_sorted", "baseline_autocast_padded_max"),
        "e2e_harness_encode_vs_e2e_baseline": ratio("e2e_harness_encode", "e2e_baseline_fp16_padded_max"),
        "e2e_harness_encode_bf16_weights_vs_e2e_baseline":
            ratio("e2e_harness_encode_bf16_weights", "e2e_baseline_fp16_padded_max"),
        "e2e_tokenize_once_bf16_weights_vs_e2e_baseline":
            ratio("e2e_tokenize_once_bf16_weights", "e2e_baseline_fp16_padded_max"),
    }
    head = ratios["model_path_harness_sorted_vs_baseline_fp16_padded_max"]
    out = {
        "benchmark": "gpu_encode",
        "environment": common.environment(device),
        "smoke": device == "cpu",
        "setup": {"passages": args.passages, "batch_size": args.batch_size, "max_tokens": args.max_tokens,
                  "layers": config.num_hidden_layers, "hidden": config.hidden_size, "vocab": vocab,
                  "attention": common.attn_implementation(model32), "passage_lengths": common.length_summary(lengths),
                  "text_generation_s": round(make_s, 2)},
        "variants": results,
        "tokenize_all_once_s": round(tokenize_s, 3),
        "ratios": ratios,
        "goal": ">= 2x passages/s (model path, harness_sorted vs baseline_fp16_padded_max)",
        "goal_met": None if device == "cpu" else bool(head >= 2.0),
    }
    for k, v in ratios.items():
        print(f"  ratio {k}: {v:.2f}x")
    print(f"  tokenising all {n_all} texts once (no padding, no tensors): {tokenize_s:.2f} s"
          + ("  [smoke: not a measurement]" if device == "cpu" else ""), flush=True)
    common.emit(out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
