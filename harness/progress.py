"""Progress of a run measured in work units: an ETA that does not trust the first cheap cells.

A run's cells differ in cost by orders of magnitude (BM25 in a fraction of a second, a trained
student in minutes) and the shared stages (the base encoder's pre-training, each seed's
teacher) run before the cells that need them.  A bar counting cells extrapolates from the
first (cheap) ones and then jumps; it also stands still while a stage runs.  Here every piece
of work to do (a cell, a shared stage) is given an estimate of its cost in **work units**
before the run starts, from its plan:

* one unit is one text through the encoder's forward pass;
* a training step on ``B`` examples of ``k`` texts each costs ``TRAIN_FACTOR * k * B`` units
  (a backward pass costs about two forwards: ``TRAIN_FACTOR = 3``);
* encoding for retrieval costs one unit per query and per document of every evaluated
  language and mode (a lexical method: ``LEXICAL_FACTOR`` of that), once more per budget
  checkpoint (``eval_at``).

So the base encoder costs ``3 * mlm_steps * mini.batch_size`` units, a teacher
``3 * 2 * teacher_steps * teacher.batch_size`` and a trained cell
``3 * 2 * steps * batch_size + (1 + len(eval_at)) * texts``.  The estimates need not be exact:
the ETA is ``elapsed * (U - u) / u`` for ``u`` units done of ``U`` planned, so only their
proportions matter.  It is hidden (``None``) until ``u >= min_share * U`` and at least
``min_seconds`` have passed, so a few cheap cells never make a forecast.  Work found in the
cache (a stage built by an earlier run) is left out of ``U``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TRAIN_FACTOR = 3.0  # forward + backward ~ three forward passes
LEXICAL_FACTOR = 0.05  # a BM25 index and search per text, relative to one encoder forward pass


@dataclass
class WorkEta:
    """Work units planned and done, and the ETA they give.

    ``units`` maps each piece of work (a cell's key, a stage's name) to its planned units;
    :meth:`finish` marks a piece done.  ETA: ``elapsed * (U - u) / u`` once ``u >= min_share * U``
    and ``elapsed >= min_seconds``, else None (not shown).

    Example
    -------
    >>> eta = WorkEta({"bm25": 1.0, "student": 99.0})
    >>> eta.finish("bm25")                   # 1 % of the work done: no forecast yet
    >>> eta.eta(elapsed=2.0) is None
    True
    >>> eta.finish("student")
    >>> eta.eta(elapsed=100.0)
    0.0
    """

    units: dict[Hashable, float]
    min_share: float = 0.1
    min_seconds: float = 5.0
    done: float = 0.0
    finished: set[Hashable] = field(default_factory=set)

    @property
    def total(self) -> float:
        return float(sum(self.units.values()))

    def finish(self, piece: Hashable) -> None:
        """Mark ``piece`` done (once; an unplanned piece adds nothing)."""
        if piece in self.finished:
            return
        self.finished.add(piece)
        self.done += self.units.get(piece, 0.0)

    def skip(self, piece: Hashable) -> None:
        """Leave ``piece`` out of the plan (found in the cache: it costs nothing)."""
        if piece not in self.finished:
            self.units.pop(piece, None)

    def share(self) -> float:
        """``u / U``, the share of the planned work done (1 when nothing is planned)."""
        total = self.total
        return 1.0 if total <= 0 else min(1.0, self.done / total)

    def eta(self, elapsed: float) -> float | None:
        """Seconds left, or None while the forecast would mean nothing yet."""
        total = self.total
        if total <= 0 or self.done <= 0 or self.done < self.min_share * total or elapsed < self.min_seconds:
            return None
        return max(0.0, elapsed * (total - self.done) / self.done)

    def postfix(self, elapsed: float) -> str:
        """``"work 37%, ETA 1:05"`` for a progress bar (``"ETA after 10% of the work"`` while hidden)."""
        left = self.eta(elapsed)
        pct = f"work {100 * self.share():.0f}%"
        if left is None:
            return f"{pct}, ETA after {100 * self.min_share:.0f}% of the work"
        return f"{pct}, ETA {format_seconds(left)}"


def cells_bar(total: int, desc: str, show: bool) -> Any:
    """The run's bar: cells done of ``total``, the elapsed clock, and a postfix the executor sets
    (what runs now, :meth:`WorkEta.postfix`).  tqdm's own rate-based remaining time is left out."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="cell",
        bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed}{postfix}",  # tqdm's postfix starts with ", "
        disable=not show or not total,
    )


def format_seconds(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on)."""
    s = int(math.ceil(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def texts_per_language(engine: Any, documents: Mapping[str, int] | None = None) -> int:
    """Texts a dense cell encodes in one world: queries and documents of every evaluated language and mode.

    ``documents``: documents per language (the preflight's counts); else read from the data.
    """
    from harness import corpus

    bench = engine.benchmark
    total = 0
    for lang in bench.languages:
        if documents is not None and lang in documents:
            docs = int(documents[lang])
        else:
            docs = len(bench.language_data(lang).corpus)
        queries = len(corpus.topics(bench, lang).queries)
        total += docs + queries
    return total * max(1, len(engine.modes))


def plan_units(engine: Any, cells: Sequence[Any], documents: Mapping[str, int] | None = None) -> dict[Hashable, float]:
    """Planned work units of ``cells`` and of the shared stages they need that are not cached.

    ``cells``: :class:`~harness.engine.CellSpec` of ``engine`` (an :class:`~harness.engine.Engine`).
    Keys: ``(world, method, seed)`` for a cell, ``("base", world)`` and ``("teacher", world, seed)``
    for a stage.  See the module docstring for the units.
    """
    from harness.cache import ENTRY_META

    config = engine.config
    units: dict[Hashable, float] = {}
    texts = texts_per_language(engine, documents)
    teachers = sorted({(c.world or engine.world, c.seed) for c in cells if config.method(c.method).cls.needs_teacher})
    bitext: dict[str, int] = {}  # bitext pairs of each world's non-pivot languages (counted once)

    def n_bitext(world: str) -> int:
        if world not in bitext:
            bench = engine.for_world(world).benchmark
            bitext[world] = sum(len(bench.bitext(lang)) for lang in bench.languages if lang != bench.pivot)
        return bitext[world]

    for spec in cells:
        entry = config.method(spec.method)
        opts = entry.options
        steps, batch = _training_steps(opts, functools.partial(n_bitext, spec.world or engine.world))
        encode = texts * (LEXICAL_FACTOR if entry.cls.kind == "lexical" else 1.0)
        checkpoints = len(getattr(opts, "eval_at", ()) or ())
        units[(spec.world or engine.world, spec.method, spec.seed)] = (
            TRAIN_FACTOR * 2 * steps * batch + (1 + checkpoints) * encode
        )
    for world, seed in teachers:
        eng = engine.for_world(world)
        if (engine.cache.entry_dir("teacher", eng.teacher_key(seed)) / ENTRY_META).is_file():
            continue
        n_pairs = len(eng.benchmark.train_pairs())
        t = config.teacher
        units[("teacher", world, seed)] = TRAIN_FACTOR * 2 * t.total_steps(n_pairs) * min(t.batch_size, n_pairs)
    if teachers and config.model.base == "mini":
        for world in sorted({w for w, _ in teachers}):
            eng = engine.for_world(world)
            if _mini_cached(eng):
                continue
            bench = eng.benchmark
            n = sum(len(bench.pretrain_sentences(lang)) for lang in bench.languages)
            units[("base", world)] = TRAIN_FACTOR * config.mini.total_steps(n) * config.mini.batch_size
    return units


def _training_steps(options: Any, n_bitext: Callable[[], int]) -> tuple[int, int]:
    """(optimizer steps, examples per step) a method's options plan, (0, 0) for an untrained method.

    Options with ``total_steps(n_pairs)`` (epochs over the bitext) are asked with the world's
    bitext size; others are read from ``steps`` and ``batch_size``."""
    batch = int(getattr(options, "batch_size", 0) or 0)
    if not batch:
        return 0, 0
    total = getattr(options, "total_steps", None)
    if callable(total):
        try:
            return int(total(n_bitext())), batch
        except TypeError:  # another signature: fall back to the steps option
            pass
    steps = getattr(options, "steps", None)
    return (int(steps), batch) if isinstance(steps, int) else (0, 0)


def _mini_cached(engine: Any) -> bool:
    from harness.cache import ENTRY_META
    from harness.models.mini import mini_key

    key = mini_key(engine.benchmark, engine.config.mini, engine.device, engine.threads)
    return (engine.cache.entry_dir("base-mini", key) / ENTRY_META).is_file()
