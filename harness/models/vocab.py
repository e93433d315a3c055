"""Deterministic WordPiece vocabulary learning (BPE merges with a total order on ties).

Why this is written by hand: the ``tokenizers`` trainers (WordPiece/BPE and Unigram)
break frequency ties by Rust hash-map iteration order, which is randomised per process.
Measured here (tokenizers 0.23): five trainings of the same corpus in five processes gave
four different vocabularies, so a run from a fresh cache would not reproduce another one's
per-query scores.  This module learns the same kind of vocabulary the WordPiece trainer
learns (byte-pair merges over word counts, ``##`` continuation pieces), but breaks ties by
the pieces' text, so the result is a pure function of the corpus.  Tokenisation itself is
still done by ``tokenizers``' ``WordPiece`` model (greedy longest-match-first, as BERT).

Algorithm (Sennrich et al. 2016, with WordPiece's continuation prefix): start from
characters (``c`` word-initially, ``##c`` inside words); repeatedly merge the adjacent
pair ``(a, b)`` with the largest corpus count ``sum_w count(w) * occ_w(a, b)``, ties by
``(a, b)`` ascending, until the vocabulary has ``vocab_size`` entries.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence


def _merge_symbol(a: str, b: str, prefix: str) -> str:
    return a + (b[len(prefix) :] if b.startswith(prefix) else b)


def learn_wordpiece_vocab(
    words: Iterable[str],
    vocab_size: int,
    special_tokens: Sequence[str],
    *,
    min_frequency: int = 2,
    prefix: str = "##",
) -> list[str]:
    """Vocabulary (ordered: specials, alphabet, merges) learned from pre-tokenised ``words``.

    Parameters
    ----------
    words : iterable of str
        Words as produced by the pre-tokenizer (one item per occurrence).
    vocab_size : int
        Target size, special tokens included (smaller if the corpus runs out of merges).
    min_frequency : int
        Pairs seen fewer times are never merged.
    """
    counts = Counter(words)
    # word ids in sorted order: every later iteration is over sorted ids (determinism)
    vocab_words = sorted(counts)
    freq = [counts[w] for w in vocab_words]
    symbols: list[list[str]] = [[w[0]] + [prefix + c for c in w[1:]] for w in vocab_words]
    alphabet = sorted({s for syms in symbols for s in syms})
    vocab: list[str] = list(dict.fromkeys([*special_tokens, *alphabet]))
    seen = set(vocab)

    pair_count: dict[tuple[str, str], int] = defaultdict(int)
    pair_words: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, syms in enumerate(symbols):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += freq[i]
            pair_words[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)

    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        cur = pair_count.get(pair, 0)
        if cur != -neg:  # stale entry: re-queue with the current count
            if cur > 0:
                heapq.heappush(heap, (-cur, pair))
            continue
        if cur < min_frequency:
            break
        a, b = pair
        new = _merge_symbol(a, b, prefix)
        touched: dict[tuple[str, str], int] = {}
        for i in sorted(pair_words.pop(pair, ())):
            syms, f = symbols[i], freq[i]
            for p in zip(syms, syms[1:]):
                pair_count[p] -= f
            out, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            symbols[i] = out
            for p in zip(out, out[1:]):
                pair_count[p] += f
                pair_words[p].add(i)
                touched[p] = pair_count[p]
        pair_count.pop(pair, None)
        for p, c in touched.items():
            if c > 0 and p != pair:
                heapq.heappush(heap, (-c, p))
        if new not in seen:
            seen.add(new)
            vocab.append(new)
    return vocab


def train_wordpiece(
    sentences: Sequence[str],
    vocab_size: int,
    special_tokens: Sequence[str],
    *,
    normalizer=None,
    pre_tokenizer=None,
    min_frequency: int = 2,
    prefix: str = "##",
):
    """A ``tokenizers.Tokenizer`` with a WordPiece model over :func:`learn_wordpiece_vocab`.

    ``normalizer`` and ``pre_tokenizer`` (``tokenizers`` objects) are applied to split the
    corpus into words exactly as the returned tokenizer will split its input.
    """
    from tokenizers import Tokenizer, models

    words: list[str] = []
    for s in sentences:
        text = normalizer.normalize_str(s) if normalizer is not None else s
        if pre_tokenizer is not None:
            words.extend(w for w, _ in pre_tokenizer.pre_tokenize_str(text))
        else:
            words.extend(text.split())
    vocab = learn_wordpiece_vocab(words, vocab_size, special_tokens, min_frequency=min_frequency, prefix=prefix)
    unk = "[UNK]" if "[UNK]" in vocab else special_tokens[0]
    tok = Tokenizer(
        models.WordPiece(
            vocab={t: i for i, t in enumerate(vocab)},
            unk_token=unk,
            max_input_chars_per_word=100,
            continuing_subword_prefix=prefix,
        )
    )
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre_tokenizer is not None:
        tok.pre_tokenizer = pre_tokenizer
    return tok
