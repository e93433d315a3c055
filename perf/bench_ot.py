"""Batched OT loss (``ot.solve_batch``) against a per-pair ``ot.sinkhorn`` loop, same run.

Both compute, for a batch of bitext pairs with ragged token counts, the loss of
``ot-distill``: ``mean_b <T*_b, C_b>`` with ``C_b = 1 - cos(teacher, student)`` and
uniform marginals over real tokens.  The batched path is the one the method uses
(:func:`methods._ot.ot_alignment_loss`: padded tensors, zero mass on padding, one
log-domain Sinkhorn over the whole batch).  The loop slices each pair's real tokens and
calls ``ot.sinkhorn(method="sinkhorn_log")`` once per pair with the same epsilon,
iteration cap and tolerance, then sums ``plan * cost``: what one would write without the
batched solver (the like-for-like ratio).  A second loop calls ``ot.sinkhorn`` with POT's
defaults (``method="sinkhorn"``, ``numItermax=1000``, ``stopThr=1e-9``), as a per-pair
implementation that does not set them would; its ratio is printed separately.

On CPU the like-for-like ratio is modest: the batched log-domain iteration is bound by
``exp``/``logsumexp`` over ``B * n * m`` entries, the loop by Python and dispatch overhead
(~45 us per pair and iteration); the batched solver also runs until the slowest pair of
the batch converges.  On CUDA the loop is bound by kernel launches and the ratio grows
with the batch.  Forward and backward are timed; losses are checked to agree.

Usage::

    python perf/bench_ot.py                    # CPU, prints the speed-up
    python perf/bench_ot.py --device cuda --batch 64 --json out.json

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


def make_batch(batch: int, tokens_pivot: int, tokens_other: int, dim: int, device: str, seed: int):
    """Random token vectors and masks; lengths uniform in ``[max // 2, max]`` per side.

    Teacher ``(B, n, H)`` and student ``(B, m, H)`` vectors are correlated (each student
    token is a noisy copy of a random teacher token), as partly aligned encoders are.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(batch, tokens_pivot, dim, generator=g)
    source = torch.randint(0, tokens_pivot, (batch, tokens_other), generator=g)
    student = 0.6 * torch.gather(teacher, 1, source[..., None].expand(-1, -1, dim)) + 0.8 * torch.randn(
        batch, tokens_other, dim, generator=g
    )

    def mask(n: int) -> "torch.Tensor":
        lengths = torch.randint(max(2, n // 2), n + 1, (batch,), generator=g)
        return (torch.arange(n)[None] < lengths[:, None]).float()

    mask_t, mask_s = mask(tokens_pivot), mask(tokens_other)
    return (teacher.to(device), mask_t.to(device), student.to(device).requires_grad_(True), mask_s.to(device))


def batched_loss(teacher, mask_t, student, mask_s, epsilon, max_iter, tol):
    from harness_methods._ot import ot_alignment_loss

    return ot_alignment_loss(
        teacher, mask_t, student, mask_s, epsilon=epsilon, max_iter=max_iter, tol=tol, warn=False
    ).loss


def loop_loss(teacher, mask_t, student, mask_s, epsilon, max_iter, tol, pot_defaults=False):
    """Per-pair ``ot.sinkhorn``: log-domain with the same cap and tolerance, or (``pot_defaults``)
    POT's defaults (``method="sinkhorn"``, ``numItermax=1000``, ``stopThr=1e-9``)."""
    import ot
    import torch

    from harness_methods._ot import cosine_cost

    losses = []
    for i in range(teacher.shape[0]):
        n, m = int(mask_t[i].sum()), int(mask_s[i].sum())
        cost = cosine_cost(teacher[i : i + 1, :n].detach(), student[i : i + 1, :m])[0]  # (n, m)
        a = torch.full((n,), 1.0 / n, device=cost.device)
        b = torch.full((m,), 1.0 / m, device=cost.device)
        if pot_defaults:
            plan = ot.sinkhorn(a, b, cost.detach(), epsilon, warn=False)
        else:
            plan = ot.sinkhorn(
                a, b, cost.detach(), epsilon, method="sinkhorn_log", numItermax=max_iter, stopThr=tol, warn=False
            )
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
    from harness_methods.ot_distill import OTDistillConfig

    d = OTDistillConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=d.batch_size, help=f"bitext pairs per batch (default {d.batch_size})")
    p.add_argument(
        "--tokens", type=int, default=28, help="maximum pivot-side tokens (default 28, as the synthetic bitext)"
    )
    p.add_argument(
        "--tokens-other",
        type=int,
        default=52,
        help="maximum other-side tokens (default 52: low-resource words split more)",
    )
    p.add_argument("--dim", type=int, default=128, help="hidden size (default 128, the mini encoder)")
    p.add_argument("--epsilon", type=float, default=d.epsilon, help=f"default: ot-distill's ({d.epsilon})")
    p.add_argument("--max-iter", type=int, default=d.max_iter, help=f"default: ot-distill's ({d.max_iter})")
    p.add_argument("--tol", type=float, default=d.tol, help=f"default: ot-distill's ({d.tol})")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    t, mt, s, ms = make_batch(args.batch, args.tokens, args.tokens_other, args.dim, args.device, args.seed)
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

    def run_loop_defaults():
        s.grad = None
        return loop_loss(t, mt, s, ms, **kw, pot_defaults=True)

    t_def, v_def = time_it(run_loop_defaults, max(1, args.repeats // 2), sync)
    rel_grad = float((g_batch - g_loop).norm() / g_loop.norm().clamp_min(1e-12))
    out = {
        "device": args.device,
        "threads": args.threads,
        "batch": args.batch,
        "tokens": args.tokens,
        "tokens_other": args.tokens_other,
        "dim": args.dim,
        "epsilon": args.epsilon,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "batched_s": t_batch,
        "loop_s": t_loop,
        "speedup": t_loop / t_batch,
        "loop_pot_defaults_s": t_def,
        "speedup_vs_pot_defaults": t_def / t_batch,
        "loss_loop_pot_defaults": v_def,
        "loss_batched": v_batch,
        "loss_loop": v_loop,
        "grad_rel_diff": rel_grad,
    }
    print(
        f"OT loss, forward+backward, B={args.batch} pairs, <= {args.tokens} x {args.tokens_other} tokens, H={args.dim}, "
        f"eps={args.epsilon}, max_iter={args.max_iter}, tol={args.tol}, {args.device}, {args.threads} thread(s)"
    )
    print(f"  ot.solve_batch (log-domain, batched): {t_batch * 1e3:9.2f} ms   loss {v_batch:.6f}")
    print(f"  ot.sinkhorn per-pair loop (log):      {t_loop * 1e3:9.2f} ms   loss {v_loop:.6f}")
    print(
        f"  ot.sinkhorn per-pair loop, POT defaults: {t_def * 1e3:9.2f} ms   loss {v_def:.6f}"
        "   (method='sinkhorn', numItermax=1000, stopThr=1e-9)"
    )
    print(f"  speed-up, same settings: {out['speedup']:.1f}x   (relative gradient difference {rel_grad:.1e})")
    print(f"  speed-up vs the POT-defaults loop: {out['speedup_vs_pot_defaults']:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if abs(v_batch - v_loop) > 1e-3 * max(1.0, abs(v_loop)):
        print("ERROR: the two losses disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
