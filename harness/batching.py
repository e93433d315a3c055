"""Length-bucketed batch orders: batches of texts of similar length, in random order.

A transformer batch is padded to its longest member, so a batch drawn at random from
passages of very unequal length (MIRACL: mostly far shorter than the 256-token cap, with a
long tail) spends most of its compute on padding: one long passage sets the width of the
whole batch.  Padding each random batch to its own maximum barely helps, because almost
every random batch of 128 holds one long passage.  Sorting by length across the data does:

1. shuffle all indices (``rng``);
2. cut the shuffled order into chunks of ``batch_size * bucket_size_multiplier`` indices;
3. sort each chunk by length and cut it into batches;
4. shuffle the order of all batches (``rng``).

Within a chunk of 50 batches the lengths are a random sample, so each batch holds items of
nearly the same length (little padding), while the chunking and the final shuffle keep the
data order random from epoch to epoch and keep short and long batches interleaved (the
sampler of fairseq / AllenNLP ``BucketBatchSampler``, with the random chunks of
``torchnlp``).  Padding efficiency is::

    eff = sum_i len_i / sum_batches (|batch| * max_{i in batch} len_i)          (in (0, 1])

(:func:`padding_efficiency`); compute scales with the padded token count, so the speed-up
over random batches padded to a common width is close to the ratio of efficiencies.

Caveat for contrastive training with in-batch negatives: the negatives of a bucketed
batch have similar lengths, so length is no longer a cue that separates a positive from
the negatives.  That makes the task slightly harder and removes a shortcut; it does not
bias the objective's optimum, but it is a change in the data order that a method's
documentation should mention when it uses these batches.

Randomness comes only from the ``numpy.random.Generator`` passed in: the same generator
state gives the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["endless_length_bucketed_batches", "length_bucketed_batches", "padding_efficiency"]


def _check_lengths(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(lengths)
    if arr.ndim != 1:
        raise ValueError(f"lengths must be a 1-D sequence of token counts, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("cannot batch an empty dataset: lengths is empty")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"lengths must be numbers (token counts), got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)) or (arr < 0).any():
        bad = int(np.flatnonzero(~np.isfinite(arr) | (arr < 0))[0])
        raise ValueError(f"lengths must be finite and >= 0; lengths[{bad}] = {arr[bad]!r}")
    return arr


def _check_sizes(batch_size: int, bucket_size_multiplier: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if (
        isinstance(bucket_size_multiplier, bool)
        or not isinstance(bucket_size_multiplier, (int, np.integer))
        or bucket_size_multiplier < 1
    ):
        raise ValueError(
            f"bucket_size_multiplier must be an integer >= 1 (batches per sorted chunk), got {bucket_size_multiplier!r}; "
            "1 sorts within each batch only (no gain), larger values give less padding"
        )


def length_bucketed_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    bucket_size_multiplier: int = 50,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """One epoch of index batches grouped by length (see the module docstring).

    Parameters
    ----------
    lengths : sequence of int, shape (n,)
        Token count of each item (e.g. the passage of each training pair).
    batch_size : int
        Items per batch.
    rng : numpy.random.Generator
        Source of all randomness (the chunking and the batch order).
    bucket_size_multiplier : int
        Batches per sorted chunk: each chunk of ``batch_size * bucket_size_multiplier``
        shuffled indices is sorted by length before it is cut into batches.  Larger gives
        less padding and a less random batch composition.
    drop_last : bool
        False (default): every index appears exactly once; one batch (from the last chunk)
        may be smaller than ``batch_size``.  True: ``n % batch_size`` indices, chosen at
        random, are left out so that every batch is full.

    Returns
    -------
    list of numpy.ndarray
        Index arrays (``int64``) into ``lengths``; within a batch, in ascending length.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> batches = length_bucketed_batches([5, 50, 6, 51, 7, 52], 2, rng)
    >>> sorted(sorted(np.asarray([5, 50, 6, 51, 7, 52])[b].tolist()) for b in batches)
    [[5, 6], [7, 50], [51, 52]]
    """
    arr = _check_lengths(lengths)
    _check_sizes(batch_size, bucket_size_multiplier)
    n = arr.size
    perm = rng.permutation(n).astype(np.int64)
    if drop_last and n >= batch_size:
        perm = perm[: n - n % batch_size]
    chunk = int(batch_size) * int(bucket_size_multiplier)
    batches: list[np.ndarray] = []
    for start in range(0, perm.size, chunk):
        idx = perm[start : start + chunk]
        idx = idx[np.argsort(arr[idx], kind="stable")]  # ties keep their (random) shuffled order
        batches.extend(idx[s : s + batch_size] for s in range(0, idx.size, batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def endless_length_bucketed_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    bucket_size_multiplier: int = 50,
    drop_last: bool = True,
) -> Iterator[np.ndarray]:
    """Endless length-bucketed batches: a fresh :func:`length_bucketed_batches` epoch after another.

    The drop-in counterpart of :func:`harness.training.shuffled_batches` for
    :func:`harness.training.train`.  ``drop_last`` defaults to True there too: each epoch
    leaves out ``n % batch_size`` random items (a different set every epoch), so every
    batch has ``batch_size`` items, unless the data are smaller than one batch (then each
    epoch is one batch of all ``n`` items).
    """
    arr = _check_lengths(lengths)
    _check_sizes(batch_size, bucket_size_multiplier)
    while True:
        yield from length_bucketed_batches(
            arr, batch_size, rng, bucket_size_multiplier=bucket_size_multiplier, drop_last=drop_last
        )


def padding_efficiency(lengths: Sequence[int] | np.ndarray, batches: Sequence[Sequence[int] | np.ndarray]) -> float:
    """Share of real tokens when each batch is padded to its longest item.

    ``eff = sum_b sum_{i in b} len_i / sum_b |b| * max_{i in b} len_i``; 1 means no
    padding.  Empty batches are ignored.
    """
    arr = _check_lengths(lengths)
    real = padded = 0.0
    for b in batches:
        idx = np.asarray(b, dtype=np.int64)
        if idx.size == 0:
            continue
        sel = arr[idx]
        real += float(sel.sum())
        padded += float(idx.size) * float(sel.max())
    if padded == 0:
        raise ValueError("padding_efficiency needs at least one non-empty batch with a positive length")
    return real / padded
