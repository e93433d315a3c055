"""The objectives of ``contrastive`` against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from harness_methods.contrastive import language_contrastive_loss, semantic_contrastive_loss


def _unit(rows):
    t = torch.tensor(rows, dtype=torch.float32)
    return t / t.norm(dim=-1, keepdim=True)


O = [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.6, 0.8]]  # noqa: E741 - the paper's notation
P = [[0.8, 0.6, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def _cos(u, v):
    nu = math.sqrt(sum(x * x for x in u))
    nv = math.sqrt(sum(x * x for x in v))
    return sum(a * b for a, b in zip(u, v)) / (nu * nv)


def _infonce_by_hand(o, p, tau):
    total = 0.0
    for i in range(len(o)):
        logits = [_cos(o[i], p[j]) / tau for j in range(len(p))]
        total += -(logits[i] - math.log(sum(math.exp(x) for x in logits)))
    return total / len(o)


@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0])
def test_semantic_loss_equals_hand_computed_infonce(tau):
    got = float(semantic_contrastive_loss(_unit(O), _unit(P), temperature=tau))
    assert got == pytest.approx(_infonce_by_hand(O, P, tau), rel=1e-5)


def test_semantic_loss_normalises_its_inputs():
    o, p = _unit(O), _unit(P)
    assert float(semantic_contrastive_loss(3 * o, 0.5 * p, 0.1)) == pytest.approx(
        float(semantic_contrastive_loss(o, p, 0.1)), rel=1e-6
    )


def test_symmetric_loss_averages_both_directions():
    tau = 0.2
    expected = 0.5 * (_infonce_by_hand(O, P, tau) + _infonce_by_hand(P, O, tau))
    got = float(semantic_contrastive_loss(_unit(O), _unit(P), tau, symmetric=True))
    assert got == pytest.approx(expected, rel=1e-5)


def test_language_loss_by_hand():
    tau = 0.5
    langs = ["sw", "sw", "yo"]
    total = 0.0
    for i in range(3):
        pos = _cos(O[i], P[i]) / tau
        negs = [_cos(O[i], O[j]) / tau for j in range(3) if j != i and langs[j] == langs[i]]
        denom = math.exp(pos) + sum(math.exp(x) for x in negs)
        total += -(pos - math.log(denom))
    got = float(language_contrastive_loss(_unit(O), _unit(P), langs, tau))
    assert got == pytest.approx(total / 3, rel=1e-5)
    # Row 2 has no same-language negative: its term is -log(1) = 0.
    only = float(language_contrastive_loss(_unit(O[2:]), _unit(P[2:]), ["yo"], tau))
    assert only == pytest.approx(0.0, abs=1e-7)


def test_gradients_flow_to_the_other_side():
    o = _unit(O).requires_grad_(True)
    p = _unit(P)
    semantic_contrastive_loss(o, p, 0.1).backward()
    assert o.grad is not None and float(o.grad.abs().sum()) > 0
