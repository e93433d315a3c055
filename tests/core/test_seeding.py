"""One seeding scheme: every stream comes from (seed, stage identity) through harness.seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness import Schedule, seeding
from harness.engine import method_data_rng, method_train_seed


def test_streams_are_reproducible_and_distinct_per_stage():
    a = seeding.rng(3, "method", "ot-distill", "data").integers(0, 2**31, 8)
    assert np.array_equal(a, seeding.rng(3, "method", "ot-distill", "data").integers(0, 2**31, 8))
    for other in [
        (4, "method", "ot-distill", "data"),
        (3, "method", "contrastive", "data"),
        (3, "method", "ot-distill", "train"),
    ]:
        assert not np.array_equal(a, seeding.rng(*other).integers(0, 2**31, 8))
    s = seeding.torch_seed(3, "teacher", "train")
    assert s == seeding.torch_seed(3, "teacher", "train") and 0 <= s < 2**63
    assert s != seeding.torch_seed(3, "teacher", "data")


def test_statistics_streams_use_the_same_scheme():
    from harness.stats.streams import stream

    assert np.array_equal(
        stream(0, "randomization", "ndcg@10", "sw").random(4),
        seeding.rng(0, "randomization", "ndcg@10", "sw").random(4),
    )


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seeds_are_refused(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seeding.rng(bad, "x")


def _train_once(train_seed: int, data_rng: np.random.Generator) -> torch.Tensor:
    """A tiny model with dropout trained through FitContext.train: weights depend on both streams."""
    from harness.cache import Cache
    from harness.plugin import FitContext

    torch.manual_seed(0)  # same initial weights for every call
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
    x = torch.from_numpy(data_rng.standard_normal((64, 4)).astype("float32"))
    ctx = FitContext(
        benchmark=None,
        teacher=None,
        seed=0,
        rng=data_rng,
        device="cpu",
        method="m",  # type: ignore[arg-type]
        cache=Cache("/nonexistent-unused"),
        train_seed=train_seed,
    )
    batches = (x[i * 8 : (i + 1) * 8] for i in range(8))
    ctx.train(model, batches, lambda b: model(b).pow(2).mean(), Schedule(steps=8, lr=0.05, warmup=0.0))
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_two_methods_of_one_seed_do_not_share_dropout_or_data_streams():
    ot = _train_once(method_train_seed(0, "ot-distill"), method_data_rng(0, "ot-distill"))
    again = _train_once(method_train_seed(0, "ot-distill"), method_data_rng(0, "ot-distill"))
    ct = _train_once(method_train_seed(0, "contrastive"), method_data_rng(0, "contrastive"))
    assert torch.equal(ot, again)  # same method and seed: identical
    assert not torch.equal(ot, ct)  # another method: its own streams
    # the dropout stream alone makes a difference (same data order, other dropout)
    mixed = _train_once(method_train_seed(0, "contrastive"), method_data_rng(0, "ot-distill"))
    assert not torch.equal(ot, mixed)
    assert method_train_seed(0, "ot-distill") != method_train_seed(1, "ot-distill")
