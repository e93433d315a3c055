"""``bm25``: lexical BM25 retrieval with the ``bm25s`` library."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.plugin import FitContext, Method, Searcher
from harness.registry import register_method

if TYPE_CHECKING:
    from harness.benchmarks.base import LanguageData

_WORD_RE = re.compile(r"\w+", re.UNICODE)
# Scripts written without spaces between words: indexed as overlapping character
# bigrams, as Lucene's CJKAnalyzer does (Han, Hiragana, Katakana, Thai).
_NO_SPACE = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]+"
_NO_SPACE_RE = re.compile(_NO_SPACE)
_SPLIT_RE = re.compile(f"({_NO_SPACE})")


def analyze(text: str, bigrams: bool = True) -> list[str]:
    """Lower-cased word tokens; runs of space-less scripts become character bigrams."""
    out: list[str] = []
    for tok in _WORD_RE.findall(text.lower()):
        if not (bigrams and _NO_SPACE_RE.search(tok)):
            out.append(tok)
            continue
        for part in _SPLIT_RE.split(tok):
            if _NO_SPACE_RE.fullmatch(part):
                out.extend(part[i : i + 2] for i in range(max(1, len(part) - 1)))
            elif part:
                out.append(part)
    return out


class BM25Config(BaseModel):
    """Options of ``bm25`` (defaults: Pyserini's MIRACL BM25 baseline, k1 = 0.9, b = 0.4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k1: float = Field(0.9, ge=0.0, le=10.0, description="term-frequency saturation")
    b: float = Field(0.4, ge=0.0, le=1.0, description="document-length normalisation")
    variant: str = Field(
        "lucene", pattern="^(lucene|robertson|atire|bm25l|bm25\\+)$", description="bm25s scoring variant"
    )
    cjk_bigrams: bool = Field(True, description="index space-less scripts (Han, kana, Thai) as character bigrams")


class BM25Searcher:
    """A :class:`~harness.plugin.Searcher` over one language's corpus at a time."""

    def __init__(self, config: BM25Config):
        self.config = config

    def search(self, queries: Mapping[str, str], data: "LanguageData", k: int) -> dict[str, dict[str, float]]:
        """Top-``k`` documents per query (documents sharing no term are omitted)."""
        import bm25s

        cfg = self.config
        doc_ids: Sequence[str] = list(data.corpus)
        index = bm25s.BM25(k1=cfg.k1, b=cfg.b, method=cfg.variant)
        index.index([analyze(data.corpus[d], cfg.cjk_bigrams) for d in doc_ids], show_progress=False)
        qids = list(queries)
        run: dict[str, dict[str, float]] = {q: {} for q in qids}
        if not qids or not doc_ids:
            return run
        q_tokens = [analyze(queries[q], cfg.cjk_bigrams) or [""] for q in qids]
        docs, scores = index.retrieve(q_tokens, k=min(k, len(doc_ids)), show_progress=False)
        for row, q in enumerate(qids):
            run[q] = {doc_ids[int(j)]: float(s) for j, s in zip(docs[row], scores[row]) if s > 0}
        return run


@register_method("bm25")
class BM25(Method[BM25Config]):
    """Okapi BM25 lexical retrieval (``bm25s``), no training and no teacher.

    ``score(q, d) = sum_{t in q} idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))``
    with Lucene's ``idf(t) = log(1 + (N - df(t) + 0.5) / (df(t) + 0.5))`` (Lucene, like
    ``bm25s``'s default variant, drops the classic constant factor ``k1 + 1``).  Text is
    lower-cased and split into word tokens; space-less scripts are indexed as character
    bigrams.  Defaults follow Pyserini's MIRACL baseline (k1 = 0.9, b = 0.4).

    Example
    -------
    >>> searcher = BM25({"k1": 1.2}).fit(ctx)                  # doctest: +SKIP
    >>> run = searcher.search(data.queries, data, k=100)       # doctest: +SKIP
    """

    version = "1.0"
    cost = 0.5
    citation = """@article{robertson2009bm25,
  title = {The Probabilistic Relevance Framework: {BM25} and Beyond},
  author = {Robertson, Stephen and Zaragoza, Hugo},
  journal = {Foundations and Trends in Information Retrieval},
  volume = {3},
  number = {4},
  pages = {333--389},
  year = {2009}
}"""
    kind = "lexical"
    needs_teacher = False
    seed_invariant = True
    fit_uses_languages = False

    def fit(self, ctx: FitContext) -> Searcher:
        return BM25Searcher(self.config)
