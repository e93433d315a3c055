"""Batched OT loss (``ot.solve_batch``) against a per-pair ``ot.sinkhorn`` loop, same run.

Both compute, for a batch of bitext pairs with ragged token counts, the loss of
``ot-distill``: ``mean_b <T*_b, C_b>`` with ``C_b = 1 - cos(teacher, student)`` and
uniform marginals over real tokens.  The batched path is the one the method uses
(:func:`methods._ot.ot_alignment_loss`: padded tensors, zero mass on padding, one
log-domain Sinkhorn over the whole batch).  The loop slices each pair's real tokens and
calls ``ot.sinkhorn(method="sinkhorn_log")`` once per pair with the same epsilon,
iteration cap and tolerance, then sums ``plan * cost``: what one would write without the
batched solver.  Forward and backward are timed; losses are checked to agree.

Usage::

    python benchmarks/bench_ot.py                    # CPU, prints the speed-up
    python benchmarks/bench_ot.py --device cuda --batch 64 --json out.json

Timings are medians of ``--repeats`` runs after one warm-up; the ratio is measured in one
process so a noisy shared machine affects both sides alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_batch(batch: int, max_tokens: int, dim: int, device: str, seed: int):
    """Random token vectors ``(B, L, H)`` and masks with lengths in ``[max_tokens//3, max_tokens]``."""
    import torch

    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(batch, max_tokens, dim, generator=g)
    student = torch.randn(batch, max_tokens, dim, generator=g)
    # Correlate the two sides a little, as aligned encoders would be.
    student = 0.6 * teacher[:, torch.randperm(max_tokens, generator=g)] + 0.8 * student
    lo = max(2, max_tokens // 3)
    len_t = torch.randint(lo, max_tokens + 1, (batch,), generator=g)
    len_s = torch.randint(lo, max_tokens + 1, (batch,), generator=g)
    ar = torch.arange(max_tokens)
    mask_t = (ar[None] < len_t[:, None]).float()
    mask_s = (ar[None] < len_s[:, None]).float()
    return (teacher.to(device), mask_t.to(device), student.to(device).requires_grad_(True), mask_s.to(device))


def batched_loss(teacher, mask_t, student, mask_s, epsilon, max_iter, tol):
    from methods._ot import ot_alignment_loss

    return ot_alignment_loss(teacher, mask_t, student, mask_s, epsilon=epsilon, max_iter=max_iter, tol=tol, warn=False).loss


def loop_loss(teacher, mask_t, student, mask_s, epsilon, max_iter, tol):
    import ot
    import torch

    from methods._ot import cosine_cost

    losses = []
    for i in range(teacher.shape[0]):
        n, m = int(mask_t[i].sum()), int(mask_s[i].sum())
        cost = cosine_cost(teacher[i : i + 1, :n].detach(), student[i : i + 1, :m])[0]  # (n, m)
        a = torch.full((n,), 1.0 / n, device=cost.device)
        b = torch.full((m,), 1.0 / m, device=cost.device)
        plan = ot.sinkhorn(a, b, cost.detach(), epsilon, method="sinkhorn_log", numItermax=max_iter, stopThr=tol, warn=False)
        losses.append((plan * cost).sum())
    return torch.stack(losses).mean()


def time_it(fn, repeats: int, sync) -> tuple[float, float]:
    """Median seconds of forward+backward, and the last loss value."""
    times, value = [], float("nan")
    for r in range(repeats + 1):
        sync()
        t0 = time.perf_counter()
        loss = fn()
        loss.backward()
        sync()
        if r > 0:  # the first run warms up
            times.append(time.perf_counter() - t0)
        value = float(loss.detach())
    return statistics.median(times), value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32, help="bitext pairs per batch (default 32)")
    p.add_argument("--tokens", type=int, default=32, help="maximum tokens per sentence (default 32)")
    p.add_argument("--dim", type=int, default=128, help="hidden size (default 128)")
    p.add_argument("--epsilon", type=float, default=0.05)
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    t, mt, s, ms = make_batch(args.batch, args.tokens, args.dim, args.device, args.seed)
    kw = dict(epsilon=args.epsilon, max_iter=args.max_iter, tol=args.tol)

    def run_batched():
        s.grad = None
        return batched_loss(t, mt, s, ms, **kw)

    def run_loop():
        s.grad = None
        return loop_loss(t, mt, s, ms, **kw)

    t_batch, v_batch = time_it(run_batched, args.repeats, sync)
    g_batch = s.grad.detach().clone()
    t_loop, v_loop = time_it(run_loop, args.repeats, sync)
    g_loop = s.grad.detach().clone()
    rel_grad = float((g_batch - g_loop).norm() / g_loop.norm().clamp_min(1e-12))
    out = {
        "device": args.device, "threads": args.threads, "batch": args.batch, "tokens": args.tokens,
        "dim": args.dim, "epsilon": args.epsilon, "max_iter": args.max_iter, "tol": args.tol,
        "batched_s": t_batch, "loop_s": t_loop, "speedup": t_loop / t_batch,
        "loss_batched": v_batch, "loss_loop": v_loop, "grad_rel_diff": rel_grad,
    }
    print(f"OT loss, forward+backward, B={args.batch} pairs, <= {args.tokens} tokens, H={args.dim}, "
          f"eps={args.epsilon}, max_iter={args.max_iter}, tol={args.tol}, {args.device}, {args.threads} thread(s)")
    print(f"  ot.solve_batch (log-domain, batched): {t_batch * 1e3:9.2f} ms   loss {v_batch:.6f}")
    print(f"  ot.sinkhorn per-pair loop (log):      {t_loop * 1e3:9.2f} ms   loss {v_loop:.6f}")
    print(f"  speed-up: {out['speedup']:.1f}x   (relative gradient difference {rel_grad:.1e})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if abs(v_batch - v_loop) > 1e-3 * max(1.0, abs(v_loop)):
        print("ERROR: the two losses disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
