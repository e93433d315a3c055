"""The OT alignment objective of ``ot-distill`` (methods._ot)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness_methods._ot import SinkhornConvergenceWarning, cosine_cost, ot_alignment_loss, token_marginals


def _batch(B=4, n=7, m=9, H=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(B, n, H, generator=g)
    s = torch.randn(B, m, H, generator=g)
    len_t = torch.tensor([7, 3, 5, 1])[:B]
    len_s = torch.tensor([9, 2, 6, 4])[:B]
    mt = (torch.arange(n)[None] < len_t[:, None]).float()
    ms = (torch.arange(m)[None] < len_s[:, None]).float()
    return t, mt, s, ms


def _sinkhorn_reference(C: np.ndarray, a: np.ndarray, b: np.ndarray, eps: float, iters: int = 400) -> np.ndarray:
    """Plain log-domain Sinkhorn in float64 (independent of POT), on real tokens only."""
    from scipy.special import logsumexp

    K = -C / eps
    u, v = np.zeros(len(a)), np.zeros(len(b))
    for _ in range(iters):
        u = np.log(a) - logsumexp(K + v[None, :], axis=1)
        v = np.log(b) - logsumexp(K + u[:, None], axis=0)
    return np.exp(K + u[:, None] + v[None, :])


def test_plan_marginals_match_the_masks():
    t, mt, s, ms = _batch()
    res = ot_alignment_loss(t, mt, s, ms, epsilon=0.1, max_iter=500, tol=1e-6)
    assert res.converged
    a, b = token_marginals(mt), token_marginals(ms)
    torch.testing.assert_close(res.plan.sum(2), a, atol=1e-5, rtol=0)
    torch.testing.assert_close(res.plan.sum(1), b, atol=1e-5, rtol=0)
    # Padding neither sends nor receives mass.
    assert float(res.plan[mt == 0].abs().sum()) == 0.0
    assert float(res.plan.transpose(1, 2)[ms == 0].abs().sum()) == 0.0
    # Each plan is a joint distribution.
    torch.testing.assert_close(res.plan.sum((1, 2)), torch.ones(4), atol=1e-5, rtol=0)


def test_loss_equals_frobenius_product_with_an_independent_plan():
    t, mt, s, ms = _batch(seed=1)
    eps = 0.1
    res = ot_alignment_loss(t, mt, s, ms, epsilon=eps, max_iter=2000, tol=1e-6)
    per_pair = []
    for i in range(t.shape[0]):
        n, m = int(mt[i].sum()), int(ms[i].sum())
        tn = t[i, :n] / t[i, :n].norm(dim=-1, keepdim=True)
        sn = s[i, :m] / s[i, :m].norm(dim=-1, keepdim=True)
        C = (1.0 - tn @ sn.T).double().numpy()
        T = _sinkhorn_reference(C, np.full(n, 1 / n), np.full(m, 1 / m), eps)
        per_pair.append(float((T * C).sum()))
    np.testing.assert_allclose(res.per_pair.detach().numpy(), per_pair, rtol=1e-4, atol=1e-5)
    assert float(res.loss.detach()) == pytest.approx(np.mean(per_pair), rel=1e-4)


def test_cost_is_one_minus_cosine():
    t, _, s, _ = _batch(B=1)
    C = cosine_cost(t, s)[0]
    i, j = 2, 5
    expected = 1 - torch.nn.functional.cosine_similarity(t[0, i], s[0, j], dim=0)
    assert float(C[i, j]) == pytest.approx(float(expected), abs=1e-6)


def test_gradients_reach_the_student_and_not_the_teacher():
    t, mt, s, ms = _batch()
    t = t.clone().requires_grad_(True)
    s = s.clone().requires_grad_(True)
    res = ot_alignment_loss(t, mt, s, ms, epsilon=0.1, max_iter=200, tol=1e-6)
    res.loss.backward()
    assert t.grad is None  # the teacher side is detached
    assert s.grad is not None and float(s.grad.abs().sum()) > 0
    # Padding positions of the student get no gradient.
    assert float(s.grad[ms == 0].abs().sum()) == 0.0


def test_gradient_is_the_plan_weighted_cost_gradient():
    """d<T*, C>/dC = T* (the plan is a constant): check against autograd through C."""
    t, mt, s, ms = _batch(seed=3)
    s = s.clone().requires_grad_(True)
    res = ot_alignment_loss(t, mt, s, ms, epsilon=0.1, max_iter=500, tol=1e-6)
    (g_s,) = torch.autograd.grad(res.loss, s)
    s2 = s.detach().clone().requires_grad_(True)
    C = cosine_cost(t, s2)
    ((res.plan * C).sum() / 4).backward()
    torch.testing.assert_close(g_s, s2.grad)


def test_padding_changes_nothing():
    t, mt, s, ms = _batch(seed=2)
    s = s.clone().requires_grad_(True)
    base = ot_alignment_loss(t, mt, s, ms, epsilon=0.1, max_iter=500, tol=1e-6)
    (g_base,) = torch.autograd.grad(base.loss, s)
    # Append 5 padding positions with arbitrary (large) values on both sides.
    g = torch.Generator().manual_seed(9)
    t_pad = torch.cat([t, 100 * torch.randn(4, 5, t.shape[2], generator=g)], 1)
    s_pad = torch.cat([s.detach(), -50 * torch.randn(4, 5, s.shape[2], generator=g)], 1).requires_grad_(True)
    mt_pad = torch.cat([mt, torch.zeros(4, 5)], 1)
    ms_pad = torch.cat([ms, torch.zeros(4, 5)], 1)
    padded = ot_alignment_loss(t_pad, mt_pad, s_pad, ms_pad, epsilon=0.1, max_iter=500, tol=1e-6)
    (g_pad,) = torch.autograd.grad(padded.loss, s_pad)
    assert float(padded.loss.detach()) == pytest.approx(float(base.loss.detach()), abs=1e-6)
    torch.testing.assert_close(g_pad[:, : s.shape[1]], g_base, atol=1e-6, rtol=1e-5)
    assert float(g_pad[:, s.shape[1] :].abs().sum()) == 0.0


def test_a_pair_without_real_tokens_is_skipped_not_nan():
    t, mt, s, ms = _batch()
    mt = mt.clone()
    mt[1] = 0  # all padding on the teacher side of pair 1
    s = s.clone().requires_grad_(True)
    res = ot_alignment_loss(t, mt, s, ms, epsilon=0.1, max_iter=200, tol=1e-6)
    assert torch.isfinite(res.loss) and torch.isfinite(res.plan).all()
    assert res.valid.tolist() == [True, False, True, True]
    assert float(res.per_pair[1].detach()) == 0.0
    assert float(res.loss.detach()) == pytest.approx(float(res.per_pair.detach().sum() / 3), rel=1e-6)
    res.loss.backward()
    assert torch.isfinite(s.grad).all() and float(s.grad[1].abs().sum()) == 0.0


def test_all_pairs_empty_gives_zero_loss():
    t, mt, s, ms = _batch()
    res = ot_alignment_loss(t, torch.zeros_like(mt), s, ms, epsilon=0.1)
    assert float(res.loss.detach()) == 0.0 and not res.valid.any()


def test_non_convergence_warns_and_names_the_knob():
    t, mt, s, ms = _batch()
    with pytest.warns(
        SinkhornConvergenceWarning, match=r"increase `methods\.ot-distill\.max_iter` or `methods\.ot-distill\.epsilon`"
    ):
        res = ot_alignment_loss(t, mt, s, ms, epsilon=0.005, max_iter=2, tol=1e-9, knob_prefix="methods.ot-distill.")
    assert not res.converged and res.n_iter == 2


def test_batched_solver_matches_a_per_pair_pot_loop():
    import ot

    t, mt, s, ms = _batch(seed=4)
    res = ot_alignment_loss(t, mt, s, ms, epsilon=0.05, max_iter=1000, tol=1e-6)
    for i in range(4):
        n, m = int(mt[i].sum()), int(ms[i].sum())
        C = cosine_cost(t[i : i + 1, :n], s[i : i + 1, :m])[0]
        T = ot.sinkhorn(
            torch.full((n,), 1 / n),
            torch.full((m,), 1 / m),
            C,
            0.05,
            method="sinkhorn_log",
            numItermax=2000,
            stopThr=1e-6,
            warn=False,
        )
        torch.testing.assert_close(res.plan[i, :n, :m], T, atol=1e-5, rtol=1e-3)


def test_bf16_autocast_keeps_the_cost_in_float32():
    t, mt, s, ms = _batch()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        res = ot_alignment_loss(t.bfloat16(), mt, s.bfloat16(), ms, epsilon=0.1, max_iter=200, tol=1e-5)
    assert res.cost.dtype == torch.float32 and res.plan.dtype == torch.float32
    assert res.converged
