"""Token-level optimal-transport alignment loss (the objective of ``ot-distill``).

Kept apart from the plugin so the objective can be tested and benchmarked alone
(``perf/bench_ot.py``, ``tests/methods/test_ot_loss.py``).

For one bitext pair with teacher token vectors ``t_1..t_n`` (pivot side) and student
token vectors ``s_1..s_m`` (other side)::

    C_ij  = 1 - cos(t_i, s_j)                                   cost, (n, m)
    a_i   = mask_t[i] / sum(mask_t),  b_j = mask_s[j] / sum(mask_s)   marginals
    T*    = argmin_{T 1 = a, T^T 1 = b, T >= 0}  <T, C> - eps * H(T)   entropic OT
    loss  = <T*, C> = sum_ij T*_ij C_ij                         Frobenius inner product

Padding (and, if asked, special tokens) has zero mass, so it neither sends nor receives
transport.  ``T*`` is solved by POT's batched log-domain Sinkhorn (``ot.solve_batch``,
torch backend, on the tensors' device) on a *detached* cost; the loss is then
``sum(T* * C)`` on the live cost.  By the envelope theorem this is the gradient of the
regularised OT value with respect to ``C`` (up to the entropy term, which does not depend
on ``C`` given ``T*``), and it avoids back-propagating through the Sinkhorn iterations.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class SinkhornConvergenceWarning(UserWarning):
    """Sinkhorn stopped at ``max_iter`` with marginals further than ``tol`` from the targets."""


@dataclass(frozen=True)
class OTLossResult:
    """What :func:`ot_alignment_loss` computed.

    Attributes
    ----------
    loss : torch.Tensor
        Scalar, mean over the valid pairs of ``<T*_b, C_b>`` (differentiable w.r.t. the
        student tokens).
    plan : torch.Tensor
        ``(B, n, m)`` transport plans (detached; all-zero for invalid pairs).
    cost : torch.Tensor
        ``(B, n, m)`` cost matrices (live).
    per_pair : torch.Tensor
        ``(B,)`` ``<T*_b, C_b>`` (zero for invalid pairs).
    valid : torch.Tensor
        ``(B,)`` bool, pairs with at least one real token on both sides.
    marginal_error : float
        Largest L2 distance between a plan's row (or column) sums and the target marginals.
    n_iter : int
        Sinkhorn iterations POT ran.
    converged : bool
        ``marginal_error <= tol``.
    """

    loss: torch.Tensor
    plan: torch.Tensor
    cost: torch.Tensor
    per_pair: torch.Tensor
    valid: torch.Tensor
    marginal_error: float
    n_iter: int
    converged: bool


def token_marginals(mask: torch.Tensor) -> torch.Tensor:
    """Uniform distribution over the real tokens of each row.

    ``mask`` is ``(B, L)`` (1 for tokens that carry mass); returns ``(B, L)`` float rows
    summing to 1 (all-zero rows stay zero).
    """
    import torch

    m = mask.to(torch.float32)
    return m / m.sum(dim=1, keepdim=True).clamp_min(1.0)


def cosine_cost(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """``C_bij = 1 - cos(teacher_bi, student_bj)``: ``(B, n, H), (B, m, H) -> (B, n, m)``, float32."""
    import torch

    t = torch.nn.functional.normalize(teacher.float(), dim=-1)  # (B, n, H)
    s = torch.nn.functional.normalize(student.float(), dim=-1)  # (B, m, H)
    return 1.0 - torch.bmm(t, s.transpose(1, 2))  # (B, n, m)


def ot_alignment_loss(
    teacher_tokens: torch.Tensor,
    teacher_mask: torch.Tensor,
    student_tokens: torch.Tensor,
    student_mask: torch.Tensor,
    *,
    epsilon: float = 0.05,
    max_iter: int = 100,
    tol: float = 1e-3,
    warn: bool = True,
    knob_prefix: str = "",
) -> OTLossResult:
    """Entropic-OT token alignment loss ``mean_b <T*_b, C_b>`` (see the module docstring).

    Parameters
    ----------
    teacher_tokens : (B, n, H) tensor
        Frozen teacher token vectors of the pivot sentences (treated as constants).
    teacher_mask : (B, n) tensor
        1 where a teacher token carries mass (real, non-padding tokens), else 0.
    student_tokens : (B, m, H) tensor
        Student token vectors of the other-language sentences (gradients flow here).
    student_mask : (B, m) tensor
    epsilon : float
        Entropic regularisation (in cost units; the cost lies in [0, 2]).  Smaller gives a
        sharper plan and needs more iterations.
    max_iter, tol : int, float
        Sinkhorn iteration cap and tolerance on the marginal error ``max_b ||T_b 1 - a_b||_2``
        (POT's stopping criterion, checked every 10 iterations).
    warn : bool
        Emit :class:`SinkhornConvergenceWarning` if the plan has not converged.
    knob_prefix : str
        Prefix of the config keys named in the warning (e.g. ``"methods.ot-distill."``).

    Returns
    -------
    OTLossResult
    """
    if teacher_tokens.shape[0] != student_tokens.shape[0]:
        raise ValueError(
            f"teacher and student batches differ in size: {teacher_tokens.shape[0]} vs {student_tokens.shape[0]}"
        )
    import torch

    # Cost, plan and loss are computed in float32, also under bf16 autocast.
    with torch.autocast(device_type=student_tokens.device.type, enabled=False):
        return _ot_alignment_loss(
            teacher_tokens,
            teacher_mask,
            student_tokens,
            student_mask,
            epsilon=epsilon,
            max_iter=max_iter,
            tol=tol,
            warn=warn,
            knob_prefix=knob_prefix,
        )


def _ot_alignment_loss(
    teacher_tokens: torch.Tensor,
    teacher_mask: torch.Tensor,
    student_tokens: torch.Tensor,
    student_mask: torch.Tensor,
    *,
    epsilon: float,
    max_iter: int,
    tol: float,
    warn: bool,
    knob_prefix: str,
) -> OTLossResult:
    import ot
    import torch

    cost = cosine_cost(teacher_tokens.detach(), student_tokens)  # (B, n, m)
    a = token_marginals(teacher_mask)  # (B, n)
    b = token_marginals(student_mask)  # (B, m)
    valid = (teacher_mask.sum(1) > 0) & (student_mask.sum(1) > 0)  # (B,)
    plan = torch.zeros_like(cost, requires_grad=False)
    n_iter, err = 0, 0.0
    if bool(valid.any()):
        # An all-padding row would have log-marginal -inf everywhere and give NaN: skip it.
        c_v = cost.detach()[valid]  # (V, n, m)
        res = ot.solve_batch(
            c_v,
            reg=float(epsilon),
            a=a[valid],
            b=b[valid],
            max_iter=int(max_iter),
            tol=float(tol),
            method="log_sinkhorn",
            grad="detach",
        )
        plan_v = res.plan.detach()  # (V, n, m)
        plan[valid] = plan_v
        n_iter = int(res.log["n_iter"]) + 1 if res.log else int(max_iter)
        # POT's criterion: L2 norm of the marginal error (columns are exact after each sweep).
        row_err = (plan_v.sum(2) - a[valid]).norm(dim=1)  # (V,)
        col_err = (plan_v.sum(1) - b[valid]).norm(dim=1)  # (V,)
        err = float(torch.maximum(row_err, col_err).max())
        if not torch.isfinite(plan_v).all():
            err = float("inf")
    per_pair = (plan * cost).sum(dim=(1, 2))  # (B,)
    n_valid = int(valid.sum())
    loss = per_pair.sum() / max(n_valid, 1)
    converged = err <= tol
    if warn and not converged:
        warnings.warn(
            f"Sinkhorn did not converge: marginal error {err:.2e} > tol {tol:g} after {n_iter} "
            f"iterations (epsilon={epsilon:g}); increase `{knob_prefix}max_iter` or "
            f"`{knob_prefix}epsilon`, or loosen `{knob_prefix}tol`",
            SinkhornConvergenceWarning,
            stacklevel=3,
        )
    return OTLossResult(
        loss=loss,
        plan=plan,
        cost=cost,
        per_pair=per_pair,
        valid=valid,
        marginal_error=err,
        n_iter=n_iter,
        converged=converged,
    )
