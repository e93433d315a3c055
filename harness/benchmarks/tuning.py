"""Tuning splits of the file-based benchmarks (``miracl``, ``local``): what the dev rule tunes on.

The comparison protocol (:mod:`harness.protocol`) chooses each method's options and budget
on a benchmark's ``"dev"`` split and reports on ``"test"`` only.  MIRACL's public qrels are
its train and dev sets, and a local benchmark has the files it is given, so these adapters
get a dev split from one of two sources, chosen by ``[benchmark] tuning``:

* **separate topics** over the same corpus: MIRACL's ``train`` topics and qrels
  (``tuning = "train"``), or a local language's ``dev_queries`` / ``dev_qrels`` files
  (``tuning = "dev-files"``); the reported queries are the evaluated split, whole;
* **a seeded holdout** of the evaluated queries (``tuning = "holdout"``): each language's
  judged queries are split into a tuning part (``holdout_fraction`` of them) and a reported
  part (the rest).  The two parts are disjoint and together are the whole set; only the
  reported part is ever scored as ``"test"``.

The holdout rule (``HOLDOUT_RULE``), a function of the set of query ids and the seed only
(not of file order, language, machine, process or library version)::

    u(q)  = sha256(f"{seed}\\t{q}")            (as a 64-digit hex string)
    order = the query ids sorted by (u(q), q)
    n_dev = min(max(floor(fraction * n), 1), n - 1)   (n >= 2 judged queries)
    dev   = the first n_dev ids of order;  test = the other n - n_dev

Hashing each id (rather than drawing a permutation from a seeded generator) keeps a query's
side stable across numpy versions and lets anyone recompute it from the query id alone.

Example
-------
>>> split = holdout_split(["q1", "q2", "q3", "q4"], fraction=0.5, seed=0)
>>> sorted(split.dev + split.test)
['q1', 'q2', 'q3', 'q4']
>>> len(split.dev), len(split.test)
(2, 2)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, StrictInt, model_validator

from harness.errors import ConfigError, did_you_mean

__all__ = [
    "HOLDOUT_RULE",
    "HoldoutSplit",
    "TuningOptions",
    "holdout_split",
    "select_queries",
]

#: Names the holdout rule above; part of every identity that depends on it.
HOLDOUT_RULE = "sha256(seed\\tquery_id)-rank/1"
DEFAULT_FRACTION = 0.5
DEFAULT_SEED = 0


@dataclass(frozen=True)
class HoldoutSplit:
    """The two disjoint parts of one language's judged queries (each sorted by id)."""

    dev: tuple[str, ...]
    test: tuple[str, ...]

    def part(self, split: str) -> tuple[str, ...]:
        return self.dev if split == "dev" else self.test


def _key(seed: int, query_id: str) -> str:
    return hashlib.sha256(f"{seed}\t{query_id}".encode()).hexdigest()


def holdout_split(query_ids: Iterable[str], fraction: float, seed: int) -> HoldoutSplit:
    """Split ``query_ids`` into a tuning (``dev``) and a reported (``test``) part (module docstring).

    Parameters
    ----------
    query_ids : iterable of str
        The judged queries of one language (order and repeats are ignored).
    fraction : float
        Share of the queries held out for tuning, ``0 < fraction < 1``; the count is
        rounded down (an odd query goes to the reported part) and kept between 1 and ``n - 1``.
    seed : int
        The holdout seed (``benchmark.holdout_seed``), ``>= 0``.

    Raises
    ------
    ValueError
        Fewer than two queries (one part would be empty), or ``fraction`` / ``seed`` out of range.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction must be between 0 and 1 (exclusive), got {fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"holdout seed must be a non-negative integer, got {seed!r}")
    ids = sorted(set(query_ids))
    n = len(ids)
    if n < 2:
        raise ValueError(f"a holdout needs at least 2 judged queries, got {n}")
    order = sorted(ids, key=lambda q: (_key(seed, q), q))
    n_dev = min(max(math.floor(round(fraction * n, 9)), 1), n - 1)  # round(): 0.29 * 100 is 28.999...96
    return HoldoutSplit(dev=tuple(sorted(order[:n_dev])), test=tuple(sorted(order[n_dev:])))


T = TypeVar("T")


def select_queries(data: T, ids: Iterable[str]) -> T:
    """``data`` (a :class:`~harness.benchmarks.base.LanguageData` or :class:`~harness.corpus.Topics`)
    restricted to the queries ``ids`` (their qrels with them; the corpus, if any, kept whole)."""
    keep = set(ids)
    queries = {q: t for q, t in data.queries.items() if q in keep}  # type: ignore[attr-defined]
    qrels = {q: r for q, r in data.qrels.items() if q in keep}  # type: ignore[attr-defined]
    translations = getattr(data, "query_translations", None)
    if translations is not None:  # a generated world's true pivot renderings travel with their queries
        return dataclasses.replace(  # type: ignore[type-var]
            data, queries=queries, qrels=qrels, query_translations={q: translations[q] for q in queries}
        )
    return dataclasses.replace(data, queries=queries, qrels=qrels)  # type: ignore[type-var]


class TuningOptions(BaseModel):
    """The tuning keys shared by the file-based adapters' options (``[benchmark]``).

    Attributes
    ----------
    tuning : str
        ``"none"`` (no dev split: methods keep their configured options and budget),
        ``"holdout"`` (a seeded holdout of the evaluated queries), or the adapter's own source
        of separate tuning topics (MIRACL ``"train"``, local ``"dev-files"``).
    holdout_fraction : float
        Share of each language's judged queries held out for tuning (default 0.5); only with a holdout.
    holdout_seed : int
        Seed of the holdout rule (default 0); only with a holdout.
    """

    #: Values of ``tuning`` besides ``"none"`` and ``"holdout"`` (separate tuning topics).
    TOPIC_SOURCES: ClassVar[tuple[str, ...]] = ()

    tuning: str = "none"
    holdout_fraction: float | None = None
    holdout_seed: StrictInt | None = None

    @classmethod
    def tuning_values(cls) -> tuple[str, ...]:
        return ("none", "holdout", *cls.TOPIC_SOURCES)

    def uses_holdout(self) -> bool:
        """Whether any language's dev split is a holdout (subclasses add fallbacks)."""
        return self.tuning == "holdout"

    @model_validator(mode="before")
    @classmethod
    def _check_tuning_value(cls, data: Any) -> Any:
        if isinstance(data, dict) and "tuning" in data:
            v = data["tuning"]
            allowed = cls.tuning_values()
            if v not in allowed:
                raise ConfigError(
                    "tuning",
                    v,
                    f"one of {', '.join(repr(a) for a in allowed)}",
                    f"unknown tuning split{did_you_mean(str(v), allowed)}",
                )
        return data

    @model_validator(mode="after")
    def _check_holdout_keys(self) -> "TuningOptions":
        f, s = self.holdout_fraction, self.holdout_seed
        if not self.uses_holdout():
            for key, v in (("holdout_fraction", f), ("holdout_seed", s)):
                if v is not None:
                    raise ConfigError(
                        key, v, "only with a holdout (tuning = 'holdout')", f"remove {key}, or set tuning = 'holdout'"
                    )
            return self
        if f is not None and not 0.0 < f < 1.0:
            raise ConfigError("holdout_fraction", f, "a number between 0 and 1 (exclusive), e.g. 0.5")
        if s is not None and s < 0:
            raise ConfigError("holdout_seed", s, "a non-negative integer")
        # the defaults are written out, so the normalised config states the holdout in full
        object.__setattr__(self, "holdout_fraction", DEFAULT_FRACTION if f is None else float(f))
        object.__setattr__(self, "holdout_seed", DEFAULT_SEED if s is None else s)
        return self

    def holdout_identity(self) -> dict[str, object]:
        """What selects a holdout's queries: the rule, fraction and seed."""
        return {"rule": HOLDOUT_RULE, "fraction": self.holdout_fraction, "seed": self.holdout_seed}

    def holdout_words(self) -> str:
        return (
            f"a seeded holdout: {self.holdout_fraction:g} of each language's judged queries (seed {self.holdout_seed}; "
            "rank by sha256(seed, query id)) are for tuning only, the rest are reported"
        )
