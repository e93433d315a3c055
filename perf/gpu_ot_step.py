"""OT-distillation step against the bitext-contrastive step, and Sinkhorn plan accuracy.

Workload: bitext batch of 128 pairs, at most 48 tokens per side (lengths drawn from 16 to
48, specials included), a frozen teacher and a trainable student, both plain Hugging Face
``BertModel`` at mBERT size (random initialisation; the student starts as a copy of the
teacher, as in OT distillation), SDPA attention, one step of
:func:`harness.training.train` (fused AdamW, bf16 autocast, gradient clipping).

* ``contrastive``: ``info_nce(teacher(pivot), student(other), 0.05)`` on mean-pooled,
  normalised sentence vectors (the bitext-contrastive step).
* ``ot max_iter=M tol=t``: the harness's own loss,
  :func:`methods._ot.ot_alignment_loss` (``C = 1 - cos``, uniform marginals over content
  tokens, [CLS]/[SEP] and padding with zero mass, POT ``ot.solve_batch`` log-domain
  Sinkhorn on the device, loss ``<T*, C>``), epsilon 0.05, at several iteration caps and
  tolerances; ``max_iter=100 tol=0`` is the baseline setting.

The other side of each pair is made from the pivot side (windows of three tokens reversed
at random, 40 % of tokens replaced, a few inserted or deleted), so the costs carry the
structure of shared tokens under reordering.  Every variant starts from the same student
(= teacher).  Step time: ``--rounds`` interleaved rounds over all variants (after an
untimed warm-up), each ``--warmup`` + ``--steps`` steps, median of the pooled timed steps
(host clock between steps; the loop synchronises every step); per-round medians are kept
so the spread is visible.  Solver alone:
``ot.solve_batch`` on the batch's costs, CUDA events; on CUDA also a hand-written
log-domain Sinkhorn with a fixed iteration count replayed as a CUDA graph, as a reference
for what the launch-bound solver could cost.

Plan accuracy (any device): relative L1 error ``sum|T - T_ref| / sum|T_ref|`` of the plan
against a 2,000-iteration float64 reference, the relative error of the loss ``<T, C>``,
the iterations POT ran and its marginal error, for each ``(max_iter, tol)`` of
``--accuracy-grid`` and each epsilon of ``--accuracy-epsilons``, on the costs of the timed
batch at the start of training, with the student in training mode (dropout, as the loss
sees them) and in eval mode.  ``--mini-costs`` adds costs from the harness's embedded
``mini`` encoder (pre-trained by MLM on the synthetic benchmark's text) on the synthetic
bitext: the token vectors of a *trained* model on real parallel sentences (CPU is fine;
builds the world and the encoder once, cached).

Usage::

    python perf/gpu_ot_step.py --json out.json                 # on a CUDA machine
    python perf/gpu_ot_step.py --accuracy-only --mini-costs    # plan accuracy, any device
    python perf/gpu_ot_step.py --smoke                         # no CUDA: tiny sizes on the CPU
"""

from __future__ import annotations

import argparse
import copy
import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _gpu_common as common  # noqa: E402

EPSILON = 0.05


def parse_settings(text: str) -> list[tuple[int, float]]:
    """``"100:0,30:1e-3"`` -> ``[(100, 0.0), (30, 0.001)]``."""
    out = []
    for item in text.split(","):
        it, _, tol = item.strip().partition(":")
        out.append((int(it), float(tol or 0.0)))
    return out


def pseudo_bitext(batch: int, tokens: int, vocab: int, rng: np.random.Generator):
    """Pivot and other-side token ids and attention masks, each ``(batch, tokens)``.

    Pivot: ``[CLS] x_1..x_k [SEP]`` with ``k + 2`` uniform in ``[16, tokens]``.  Other side:
    the pivot's words with windows of three reversed at random, 40 % replaced by random
    words, then up to four words inserted or deleted at random positions.
    """
    lo = min(16, tokens)
    p_len = rng.integers(lo, tokens + 1, size=batch)
    p_rows, o_rows = [], []
    for n in p_len.tolist():
        words = rng.integers(common.N_SPECIAL, vocab, size=n - 2)
        other = words.copy()
        for s in range(0, len(other), 3):
            if rng.random() < 0.5:
                other[s : s + 3] = other[s : s + 3][::-1].copy()
        swap = rng.random(len(other)) < 0.4
        other[swap] = rng.integers(common.N_SPECIAL, vocab, size=int(swap.sum()))
        target = int(np.clip(len(other) + rng.integers(-4, 5), 4, tokens - 2))
        while len(other) > target:
            other = np.delete(other, rng.integers(len(other)))
        while len(other) < target:
            other = np.insert(other, rng.integers(len(other) + 1), rng.integers(common.N_SPECIAL, vocab))
        p_rows.append(words)
        o_rows.append(other)

    def pack(rows):
        ids = np.full((batch, tokens), common.PAD, dtype=np.int64)
        for r, w in enumerate(rows):
            ids[r, 0], ids[r, 1 : len(w) + 1], ids[r, len(w) + 1] = common.CLS, w, common.SEP
        return ids, (ids != common.PAD).astype(np.int64)

    return (*pack(p_rows), *pack(o_rows))


def content_mask(ids, mask):
    """Mass on real tokens other than [CLS]/[SEP] (the ``ot-distill`` default)."""
    import torch

    special = torch.tensor([common.CLS, common.SEP], device=ids.device)
    return mask.float() * (~torch.isin(ids, special)).float()  # (B, L)


# ----------------------------------------------------------------------------- accuracy
def plan_accuracy(
    cost, mask_t, mask_s, epsilons: list[float], grid: list[tuple[int, float]], ref_iter: int = 2000
) -> list[dict[str, Any]]:
    """Plan and loss errors of ``ot.solve_batch`` settings against a float64 reference.

    ``cost`` is ``(B, n, m)`` (detached), masks ``(B, n)`` and ``(B, m)``.  Returns one row
    per (epsilon, max_iter, tol).
    """
    import ot
    import torch

    from harness_methods._ot import token_marginals

    a, b = token_marginals(mask_t), token_marginals(mask_s)  # (B, n), (B, m)
    valid = (mask_t.sum(1) > 0) & (mask_s.sum(1) > 0)
    c, a, b = cost[valid].float(), a[valid], b[valid]
    rows = []
    for eps in epsilons:
        ref = ot.solve_batch(
            c.double(),
            reg=eps,
            a=a.double(),
            b=b.double(),
            max_iter=ref_iter,
            tol=0.0,
            method="log_sinkhorn",
            grad="detach",
        )
        t_ref = ref.plan  # (V, n, m) float64
        loss_ref = (t_ref * c.double()).sum(dim=(1, 2))  # (V,)
        ref_err = float((t_ref.sum(2) - a.double()).norm(dim=1).max())
        for max_iter, tol in grid:
            res = ot.solve_batch(c, reg=eps, a=a, b=b, max_iter=max_iter, tol=tol, method="log_sinkhorn", grad="detach")
            t = res.plan.double()
            loss = (t * c.double()).sum(dim=(1, 2))
            rows.append(
                {
                    "epsilon": eps,
                    "max_iter": max_iter,
                    "tol": tol,
                    "n_iter": int(res.log["n_iter"]) + 1,
                    "plan_rel_l1": float((t - t_ref).abs().sum() / t_ref.abs().sum()),
                    "loss_rel_err": float((loss - loss_ref).abs().sum() / loss_ref.abs().sum()),
                    "marginal_err": float((t.sum(2) - a.double()).norm(dim=1).max()),
                    "finite": bool(torch.isfinite(t).all()),
                    "reference_marginal_err": ref_err,
                }
            )
    return rows


def cost_summary(cost, mask_t, mask_s) -> dict[str, float]:
    """Spread of the content-token costs and how peaked the rows are (min cost vs mean)."""
    import torch

    m = (mask_t[:, :, None] * mask_s[:, None, :]) > 0  # (B, n, m)
    vals = cost[m].float()
    big = torch.where(m, cost.float(), torch.full_like(cost.float(), float("inf")))
    row_min = big.min(dim=2).values[mask_t > 0]  # best match of each teacher token
    return {
        "mean": round(float(vals.mean()), 4),
        "std": round(float(vals.std()), 4),
        "min": round(float(vals.min()), 4),
        "max": round(float(vals.max()), 4),
        "row_min_mean": round(float(row_min.mean()), 4),
    }


def print_accuracy(name: str, rows: list[dict[str, Any]]) -> None:
    print(f" plan accuracy, {name} (reference: 2000 iterations, float64)")
    print(
        f"  {'eps':>5s} {'max_iter':>8s} {'tol':>7s} {'iters':>5s} {'plan rel L1':>11s} {'loss rel':>9s} {'marg err':>9s}"
    )
    for r in rows:
        print(
            f"  {r['epsilon']:5.3f} {r['max_iter']:8d} {r['tol']:7.0e} {r['n_iter']:5d} {r['plan_rel_l1']:11.2e} "
            f"{r['loss_rel_err']:9.2e} {r['marginal_err']:9.2e}",
            flush=True,
        )


def mini_costs(batch: int, languages: list[str], seed: int):
    """Costs from the embedded ``mini`` encoder on synthetic bitext (teacher = student = base).

    Returns ``{language: (cost (B, n, m), mask_t, mask_s)}`` on the CPU.
    """
    import torch

    try:
        from harness.benchmarks.synthetic import SyntheticBenchmark
        from harness.cache import Cache
        from harness.models.encoder import BiEncoder
    except ImportError as e:  # pragma: no cover - depends on the checkout
        raise SystemExit(f"--mini-costs needs the synthetic benchmark and the mini encoder: {e}") from e
    from harness_methods._ot import cosine_cost

    bench = SyntheticBenchmark(None, Cache.default())
    enc = BiEncoder.from_pretrained(bench.base_model_dir()).eval()
    special = sorted(set(enc.tokenizer.all_special_ids))
    rng = np.random.default_rng(seed)
    out = {}
    for lang in languages:
        pairs = list(bench.bitext(lang))
        pick = rng.choice(len(pairs), size=min(batch, len(pairs)), replace=False)
        with torch.no_grad():
            fp = enc.tokenize([pairs[i].pivot for i in pick])
            fo = enc.tokenize([pairs[i].other for i in pick])
            tt, st = enc.token_embeddings(fp), enc.token_embeddings(fo)

            def cmask(f):
                m = f["attention_mask"].float()
                return m * (~torch.isin(f["input_ids"], torch.tensor(special))).float()

            out[lang] = (cosine_cost(tt, st), cmask(fp), cmask(fo))
    return out


# ----------------------------------------------------------------------------- solver reference
def graph_log_sinkhorn(cost, a, b, epsilon: float, n_iter: int):
    """Fixed-iteration log-domain Sinkhorn captured once as a CUDA graph; returns (replay, plan)."""
    import torch

    K = (-cost / epsilon).contiguous()  # (B, n, m)
    loga, logb = a.log(), b.log()  # -inf on zero-mass tokens, as in POT
    u = torch.zeros_like(a)
    v = torch.zeros_like(b)
    plan = torch.empty_like(K)

    def body():
        uu, vv = u, v
        for _ in range(n_iter):
            uu = loga - torch.logsumexp(K + vv[:, None, :], dim=2)
            vv = logb - torch.logsumexp(K + uu[:, :, None], dim=1)
        plan.copy_(torch.exp(K + uu[:, :, None] + vv[:, None, :]))

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        body()
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()
    return graph.replay, plan


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--tokens", type=int, default=48)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant and round")
    p.add_argument("--rounds", type=int, default=2, help="rounds over all variants (interleaved, pooled)")
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument(
        "--timed-settings",
        default="100:0,100:1e-3,100:3e-3,50:0,30:0,20:0",
        help="max_iter:tol of the timed OT steps (the first is the baseline)",
    )
    p.add_argument("--accuracy-grid", default="5:0,10:0,20:0,30:0,50:0,100:0,100:1e-2,100:3e-3,100:1e-3,100:1e-4")
    p.add_argument("--accuracy-epsilons", default="0.05,0.02")
    p.add_argument("--accuracy-only", action="store_true", help="only the plan-accuracy tables (any device)")
    p.add_argument(
        "--mini-costs",
        action="store_true",
        help="add plan accuracy on costs from the embedded mini encoder over synthetic bitext",
    )
    p.add_argument("--mini-languages", default="l1,h1")
    common.add_common_arguments(p)
    args = p.parse_args(argv)

    import torch

    if args.accuracy_only:
        if args.threads:
            torch.set_num_threads(args.threads)
        device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    else:
        device = common.device_or_skip(args)
        if device is None:
            return 0
    cuda = device == "cuda"
    if args.smoke:
        args.batch, args.tokens, args.warmup, args.steps, args.rounds = 8, 24, 1, 2, 1
        args.timed_settings, args.accuracy_grid = "100:0,10:0", "10:0,100:1e-3"

    from harness.models.encoder import BiEncoder
    from harness.training import info_nce, train
    from harness_methods._ot import ot_alignment_loss

    timed = parse_settings(args.timed_settings)
    grid = parse_settings(args.accuracy_grid)
    epsilons = [float(x) for x in args.accuracy_epsilons.split(",")]
    out: dict[str, Any] = {
        "benchmark": "gpu_ot_step",
        "environment": common.environment(device),
        "smoke": bool(args.smoke),
        "epsilon": EPSILON,
    }
    accuracy: dict[str, Any] = {}

    rng = np.random.default_rng(args.seed)
    config = common.bert_config(tiny=args.smoke or (args.accuracy_only and not cuda))
    teacher_model = common.make_bert(config, device, args.seed)
    teacher = BiEncoder(teacher_model, tokenizer=None, pooling="mean", max_length=args.tokens).eval()
    teacher.requires_grad_(False)
    student = BiEncoder(copy.deepcopy(teacher_model), tokenizer=None, pooling="mean", max_length=args.tokens)
    student.requires_grad_(True)
    n_batches = 4
    data = []
    for _ in range(n_batches):
        pi, pm, oi, om = (
            torch.as_tensor(x, device=device) for x in pseudo_bitext(args.batch, args.tokens, config.vocab_size, rng)
        )
        data.append(
            (
                {"input_ids": pi, "attention_mask": pm},
                content_mask(pi, pm),
                {"input_ids": oi, "attention_mask": om},
                content_mask(oi, om),
            )
        )
    out["setup"] = {
        "batch": args.batch,
        "tokens": args.tokens,
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "vocab": config.vocab_size,
        "attention": common.attn_implementation(teacher_model),
        "content_tokens_per_side_mean": round(float(data[0][1].sum(1).mean()), 2),
    }

    # Costs of the timed batches at the start of training (student = teacher), as the loss
    # computes them: bf16 autocast, the student in training mode (dropout 0.1), and also
    # without dropout (both sides in eval mode).
    from harness_methods._ot import cosine_cost

    mt_all = torch.cat([mp for _, mp, _, _ in data])
    ms_all = torch.cat([mo for _, _, _, mo in data])
    for label, train_mode in (("dropout", True), ("eval", False)):
        student.train(train_mode)
        with (
            torch.no_grad(),
            torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=cuda),
            torch.random.fork_rng(devices=[0] if cuda else []),
        ):
            torch.manual_seed(args.seed)
            costs = [
                (cosine_cost(teacher.token_embeddings(fp), student.token_embeddings(fo)), mp, mo)
                for fp, mp, fo, mo in data
            ]
        c_all = torch.cat([c for c, _, _ in costs])
        key = f"bert_random_init_pseudo_bitext_student_{label}"
        accuracy[key] = {
            "cost": cost_summary(c_all, mt_all, ms_all),
            "rows": plan_accuracy(c_all, mt_all, ms_all, epsilons, grid),
        }
        print_accuracy(
            f"{config.num_hidden_layers}x{config.hidden_size} BERT (random init), pseudo-bitext, student "
            f"{label}, {c_all.shape[0]} pairs, costs {accuracy[key]['cost']}",
            accuracy[key]["rows"],
        )
    student.train()
    if args.mini_costs:
        for lang, (c, mt, ms) in mini_costs(args.batch, args.mini_languages.split(","), args.seed).items():
            key = f"mini_encoder_synthetic_bitext_{lang}"
            accuracy[key] = {"cost": cost_summary(c, mt, ms), "rows": plan_accuracy(c, mt, ms, epsilons, grid)}
            print_accuracy(
                f"mini encoder (MLM pre-trained), synthetic bitext en-{lang}, {c.shape[0]} pairs, "
                f"costs {accuracy[key]['cost']}",
                accuracy[key]["rows"],
            )
    out["plan_accuracy"] = accuracy
    if args.accuracy_only:
        common.emit(out, args.json)
        return 0

    # ------------------------------------------------------------------ step timing
    def contrastive_loss(k: int):
        fp, _, fo, _ = data[k]
        with torch.no_grad():
            t = teacher(fp)  # (B, H)
        return info_nce(t, student(fo), 0.05)

    iters_seen: list[int] = []

    def ot_loss(max_iter: int, tol: float):
        def fn(k: int):
            fp, mp, fo, mo = data[k]
            with torch.no_grad():
                tt = teacher.token_embeddings(fp)  # (B, n, H)
            st = student.token_embeddings(fo)  # (B, m, H)
            res = ot_alignment_loss(tt, mp, st, mo, epsilon=EPSILON, max_iter=max_iter, tol=tol, warn=False)
            iters_seen.append(res.n_iter)
            return res.loss

        return fn

    step_secs: dict[str, list[float]] = {}
    round_medians: dict[str, list[float]] = {}
    iterations: dict[str, set[int]] = {}
    initial = copy.deepcopy(teacher_model.state_dict())

    def time_step(name: str, loss_fn, record: bool = True) -> None:
        """``--warmup`` + ``--steps`` steps of train() from the initial student (= teacher)."""
        student.model.load_state_dict(initial)
        iters_seen.clear()
        clock = common.StepClock(loss_fn)
        train(
            student,
            itertools.cycle(range(n_batches)),
            clock,
            steps=args.warmup + args.steps + 1,
            lr=args.lr,
            method=name,
            seed=args.seed,
            device=device,
            warmup=0.0,
        )
        common.sync(device)
        if record:
            secs = clock.step_seconds(args.warmup)
            step_secs.setdefault(name, []).extend(secs)
            round_medians.setdefault(name, []).append(common.stats_ms(secs)["median_ms"])
            if iters_seen:
                iterations.setdefault(name, set()).update(iters_seen)

    print(
        f"step timing, B={args.batch}, <= {args.tokens} tokens per side, {config.num_hidden_layers} layers x "
        f"{config.hidden_size}, {device}",
        flush=True,
    )
    time_step("warm-up", contrastive_loss, record=False)  # clocks, kernels, allocator
    for _ in range(args.rounds):  # interleaved rounds: drifts of the machine hit every variant alike
        time_step("contrastive", contrastive_loss)
        for max_iter, tol in timed:
            time_step(f"ot max_iter={max_iter} tol={tol:g}", ot_loss(max_iter, tol))
    steps: dict[str, dict[str, Any]] = {}
    for name, secs in step_secs.items():
        steps[name] = {**common.stats_ms(secs), "round_medians_ms": round_medians[name]}
        if name in iterations:
            steps[name]["sinkhorn_iterations"] = sorted(iterations[name])
    base = steps["contrastive"]["median_ms"]
    for name, r in steps.items():
        r["ratio_vs_contrastive"] = round(r["median_ms"] / base, 3)
        print(
            f"  {name:28s} {r['median_ms']:8.2f} ms  ({r['ratio_vs_contrastive']:.2f}x contrastive; "
            f"round medians {r['round_medians_ms']})"
            + (f"  iterations {r['sinkhorn_iterations']}" if "sinkhorn_iterations" in r else ""),
            flush=True,
        )
    out["steps"] = steps

    # ------------------------------------------------------------------ solver alone
    import ot

    from harness_methods._ot import token_marginals

    c0, m0, s0 = costs[0]  # first batch, eval-mode costs
    c0 = c0.float().contiguous()
    a0, b0 = token_marginals(m0), token_marginals(s0)
    solver: dict[str, Any] = {}
    for max_iter, tol in timed:
        secs = common.event_times(
            lambda max_iter=max_iter, tol=tol: ot.solve_batch(
                c0, reg=EPSILON, a=a0, b=b0, max_iter=max_iter, tol=tol, method="log_sinkhorn", grad="detach"
            ),
            2,
            10,
            device,
        )
        solver[f"pot max_iter={max_iter} tol={tol:g}"] = common.stats_ms(secs)
    if cuda:
        ref = ot.solve_batch(
            c0, reg=EPSILON, a=a0, b=b0, max_iter=100, tol=0.0, method="log_sinkhorn", grad="detach"
        ).plan
        for n_iter in sorted({m for m, _ in timed}):
            replay, plan = graph_log_sinkhorn(c0, a0, b0, EPSILON, n_iter)
            secs = common.event_times(replay, 2, 10, device)
            r = common.stats_ms(secs)
            if n_iter == 100:
                r["plan_rel_l1_vs_pot_100"] = float((plan - ref).abs().sum() / ref.abs().sum())
            solver[f"torch log-Sinkhorn, CUDA graph, {n_iter} iterations"] = r
    for name, r in solver.items():
        print(f"  solver alone: {name:44s} {r['median_ms']:8.3f} ms", flush=True)
    out["solver_alone"] = solver

    baseline_name = f"ot max_iter={timed[0][0]} tol={timed[0][1]:g}"
    out["ratios"] = {name: r["ratio_vs_contrastive"] for name, r in steps.items()}
    out["baseline_setting"] = baseline_name
    rm = steps["contrastive"]["round_medians_ms"]
    out["contrastive_round_spread"] = round((max(rm) - min(rm)) / min(rm), 4)
    out["goal"] = "OT step <= 1.2x the contrastive step"
    common.emit(out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
