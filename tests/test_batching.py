"""Length-bucketed batch orders (harness.batching)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.batching import endless_length_bucketed_batches, length_bucketed_batches, padding_efficiency
from harness.training import shuffled_batches


def skewed_lengths(n: int, seed: int = 0) -> np.ndarray:
    """MIRACL-like token counts: lognormal (median 66, sigma 0.7) clipped to [8, 256]."""
    rng = np.random.default_rng(seed)
    return np.clip(np.round(rng.lognormal(np.log(66.0), 0.7, n)), 8, 256).astype(np.int64)


@pytest.mark.parametrize("n,batch_size,mult", [(1000, 32, 5), (1001, 32, 5), (7, 32, 50), (64, 8, 1), (100, 1, 3)])
def test_every_index_exactly_once(n, batch_size, mult):
    lengths = skewed_lengths(n)
    batches = length_bucketed_batches(lengths, batch_size, np.random.default_rng(1), bucket_size_multiplier=mult)
    flat = np.concatenate(batches)
    assert flat.dtype == np.int64
    assert np.array_equal(np.sort(flat), np.arange(n))
    sizes = [len(b) for b in batches]
    assert max(sizes) <= batch_size
    assert sum(1 for s in sizes if s < batch_size) <= 1  # only the last chunk can leave a partial batch
    assert len(batches) == -(-n // batch_size)
    for b in batches:  # ascending length within a batch
        assert np.all(np.diff(lengths[b]) >= 0)


def test_drop_last_gives_full_batches_of_distinct_items():
    lengths = skewed_lengths(1003)
    batches = length_bucketed_batches(lengths, 32, np.random.default_rng(2), bucket_size_multiplier=4, drop_last=True)
    assert all(len(b) == 32 for b in batches)
    flat = np.concatenate(batches)
    assert len(flat) == 1003 - 1003 % 32
    assert len(np.unique(flat)) == len(flat)


def test_deterministic_given_the_generator_state_and_random_across_seeds():
    lengths = skewed_lengths(2000)
    a = length_bucketed_batches(lengths, 16, np.random.default_rng(7), bucket_size_multiplier=10)
    b = length_bucketed_batches(lengths, 16, np.random.default_rng(7), bucket_size_multiplier=10)
    c = length_bucketed_batches(lengths, 16, np.random.default_rng(8), bucket_size_multiplier=10)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_batch_order_is_shuffled_not_sorted():
    lengths = skewed_lengths(4000)
    batches = length_bucketed_batches(lengths, 20, np.random.default_rng(3), bucket_size_multiplier=20)
    widths = np.array([lengths[b].max() for b in batches])
    # Sorted chunks cut in order would give runs of increasing widths; a shuffled order
    # has about half of its consecutive steps going down.
    down = float(np.mean(np.diff(widths) < 0))
    assert 0.3 < down < 0.7


def test_padding_efficiency_beats_random_batches_on_skewed_lengths():
    lengths = skewed_lengths(25_600)
    rng = np.random.default_rng(4)
    bucketed = length_bucketed_batches(lengths, 128, rng, bucket_size_multiplier=50)
    random_batches = list(itertools.islice(shuffled_batches(len(lengths), 128, np.random.default_rng(4)), 200))
    eff_bucketed = padding_efficiency(lengths, bucketed)
    eff_random = padding_efficiency(lengths, random_batches)
    eff_to_max = float(lengths.mean()) / 256.0
    assert eff_bucketed > 0.95
    assert eff_random < 0.45
    assert eff_to_max <= eff_random  # padding to the cap can only be worse
    # More batches per sorted chunk -> less padding.
    eff_small = padding_efficiency(lengths, length_bucketed_batches(lengths, 128, rng, bucket_size_multiplier=2))
    assert eff_random < eff_small < eff_bucketed


def test_padding_efficiency_by_hand():
    assert padding_efficiency([1, 3, 2, 2], [[0, 1], [2, 3]]) == pytest.approx((1 + 3 + 2 + 2) / (2 * 3 + 2 * 2))
    assert padding_efficiency([4, 4], [[0, 1], []]) == 1.0
    with pytest.raises(ValueError, match="non-empty batch"):
        padding_efficiency([0, 0], [[0, 1]])


def test_endless_batches_run_past_one_epoch_with_fresh_orders():
    lengths = skewed_lengths(100)
    it = endless_length_bucketed_batches(lengths, 10, np.random.default_rng(5), bucket_size_multiplier=2)
    first = [next(it) for _ in range(10)]
    second = [next(it) for _ in range(10)]
    for epoch in (first, second):
        assert np.array_equal(np.sort(np.concatenate(epoch)), np.arange(100))
    assert not all(np.array_equal(x, y) for x, y in zip(first, second))
    tiny = endless_length_bucketed_batches([3, 1, 2], 10, np.random.default_rng(0))
    assert sorted(next(tiny).tolist()) == [0, 1, 2]  # smaller than a batch: one batch of everything


@pytest.mark.parametrize(
    "lengths,batch_size,mult,match",
    [
        ([], 4, 50, "empty"),
        ([[1, 2], [3, 4]], 4, 50, "1-D"),
        ([1, -2, 3], 4, 50, r"lengths\[1\]"),
        ([1, float("nan")], 4, 50, "finite"),
        (["a", "b"], 4, 50, "numbers"),
        ([1, 2], 0, 50, "batch_size"),
        ([1, 2], 2.5, 50, "batch_size"),
        ([1, 2], 2, 0, "bucket_size_multiplier"),
    ],
)
def test_bad_arguments_are_explained(lengths, batch_size, mult, match):
    with pytest.raises(ValueError, match=match):
        length_bucketed_batches(lengths, batch_size, np.random.default_rng(0), bucket_size_multiplier=mult)
