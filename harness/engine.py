"""Stages of a benchmark matrix, each cached by content hash.

::

    base encoder ─► teacher(seed) ─► method(seed).fit ─► retrieve per language ─► evaluate

A *cell* is one (world, method, seed): a world is one instance of the benchmark (a drawn
synthetic world, or the one given benchmark; ``HarnessConfig.worlds``), and each world has
an engine of its own, built from the config on that world (``HarnessConfig.for_world``).
:class:`Engine` computes one cell from a validated config,
reusing cached stages: the base encoder (for ``synthetic``, the MLM-pre-trained ``mini``
model), the seed's teacher (pivot fine-tuning with in-batch negatives) and finished cells.
A cell's key hashes everything that can change its scores (data fingerprint, base model,
teacher options, the method's name, version and options, the seed, metrics, device), so
re-running a finished config recomputes nothing and changing one method's options re-runs
only that method's cells.  A failed cell is returned as such, never cached.

A fit-cached method (:meth:`harness.plugin.Method.save`/``load``) has one more stage, ``fit``,
keyed by its training inputs only (:meth:`Engine.fit_key`): an edit of the evaluated corpus,
queries or qrels re-evaluates the stored fit without re-training.

The engine is one of several modules: :mod:`harness.cells` (cell records, the bottom floor),
:mod:`harness.keys` (cache keys from their compute, data and method parts),
:mod:`harness.cell_store` (stored cells and runs), :mod:`harness.cell_evaluation` (retrieval,
output checks, per-query scores) and :mod:`harness.worker` (worker-process glue).  For plugins
and scripts written against the former single module, this module re-exports the names that
lived here and now live in the modules below it (``RESULT_COLUMNS``, ``CellSpec``,
``CellOutput``, ``run_name``, ``with_mode_column``, ``with_world_column``, ``retrieve_splits``,
``left_out_queries``, ``UNIT_NORM_TOL`` and the output-check errors); the worker functions
(``execute_cell_remote``, ``run_cell_timed``, ``build_stage_remote``) are in
:mod:`harness.worker` only, since that module imports this one.
"""

from __future__ import annotations

import errno
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import cell_evaluation, cell_store, keys, seeding
from harness.cache import Cache
from harness.cell_evaluation import (  # re-exported (the names of the former single module)
    UNIT_NORM_TOL,
    NonFiniteOutputError,
    SearcherOutputError,
    UnnormalisedEmbeddingError,
    left_out_queries,
    retrieve_splits,
    with_budget,
)
from harness.cells import (  # re-exported (the names of the former single module)
    RESULT_COLUMNS,
    CellDone,
    CellFailed,
    CellOutput,
    CellSpec,
    run_name,
    with_mode_column,
    with_world_column,
)
from harness.config import HarnessConfig, make_benchmark

__all__ = [
    "RESULT_COLUMNS",
    "UNIT_NORM_TOL",
    "CellDone",
    "CellFailed",
    "CellOutput",
    "CellSpec",
    "Engine",
    "NonFiniteOutputError",
    "SearcherOutputError",
    "UnnormalisedEmbeddingError",
    "left_out_queries",
    "method_data_rng",
    "method_train_seed",
    "retrieve_splits",
    "run_name",
    "seeded_torch",
    "with_mode_column",
    "with_world_column",
]


def method_data_rng(seed: int, method: str) -> np.random.Generator:
    """A method's data-order generator for a run seed (``ctx.rng``): stage ``("method", name, "data")``."""
    return seeding.rng(seed, "method", method, "data")


def method_train_seed(seed: int, method: str) -> int:
    """A method's dropout seed for a run seed (``ctx.train_seed``): stage ``("method", name, "train")``."""
    return seeding.torch_seed(seed, "method", method, "train")


@contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Run a block with torch's global RNG seeded, then restore it.

    Library code such as dropout draws from torch's global generator; forking it keeps the
    block reproducible without leaking state to (or from) the rest of the process.
    """
    import torch

    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_available() else []):
        torch.manual_seed(seed)
        yield


class Engine:
    """Computes cells for one config; memoises the benchmark, base encoder and teachers.

    An engine serves one world (:attr:`world`); with several (``benchmark.worlds``) it is the
    first world's, and :meth:`for_world` gives (and memoises) each other world's engine, built
    from the config on that world.  :meth:`plan` lists the cells of every world, and
    :meth:`run_cell`, :meth:`load_cached_cell` and :meth:`store_cell` hand a cell to its world's
    engine.
    """

    def __init__(
        self,
        config: HarnessConfig,
        cache: Cache,
        *,
        progress: bool = False,
        device: str | None = None,
        shard_runner: Any = None,
    ):
        from harness.training import resolve_device

        #: the whole matrix's config (every world) and this engine's world
        self.matrix_config = config
        self.world = config.worlds[0]
        self.config = config.for_world(self.world)
        self._world_engines: dict[str, Engine] = {self.world: self}
        #: where document-index shards are encoded (None: in this process; see harness.index.build_index)
        self.shard_runner = shard_runner
        self.cache = cache
        self.progress = progress
        self.device = device or resolve_device(config.raw.device)
        self._benchmark = None
        self._views: dict[str, Any] = {}
        self._teachers: dict[int, Any] = {}
        self._base_dir: Path | None = None
        self._model_identity: dict[str, Any] | None = None
        from harness.training import set_cpu_threads

        #: torch CPU threads every stage of this engine runs with (part of trained stages' identity)
        self.threads = set_cpu_threads(config.training.num_threads)
        # build directories of processes that died mid-build (SIGKILL during the base encoder's MLM...)
        swept = cache.sweep_stale()
        if swept:
            from harness.index import cache_log

            cache_log(cache.root, "swept", "tmp", paths=[str(p.relative_to(cache.root)) for p in swept])

    def for_world(self, world: str) -> "Engine":
        """The engine of ``world`` (one of ``matrix_config.worlds``; ``""``: this one), built on first use."""
        if world in ("", self.world):
            return self
        if world not in self._world_engines:
            eng = Engine(
                self.matrix_config.for_world(world),
                self.cache,
                progress=self.progress,
                device=self.device,
                shard_runner=self.shard_runner,
            )
            eng.matrix_config = self.matrix_config
            eng._world_engines = self._world_engines  # one memo shared by every world's engine
            self._world_engines[world] = eng
        return self._world_engines[world]

    @property
    def worlds(self) -> list[str]:
        """Every world of the matrix (``HarnessConfig.worlds``), this engine's first."""
        return list(self.matrix_config.worlds)

    # ----------------------------------------------------------------- data & models
    @property
    def benchmark(self):
        if self._benchmark is None:
            self._benchmark = make_benchmark(self.config, self.cache)
            self._benchmark.check_available()  # fail in seconds on missing data, not after training teachers
            for lang in self._benchmark.languages:
                self._benchmark.check_language(lang)
        return self._benchmark

    @property
    def modes(self) -> tuple[str, ...]:
        """The benchmark's evaluation modes (each cell is evaluated in every one; it trains once)."""
        return tuple(self.benchmark.modes)

    def view(self, mode: str):
        """The benchmark serving ``mode``'s evaluation data (:meth:`Benchmark.with_mode`), memoised."""
        if mode not in self._views:
            self._views[mode] = self.benchmark.with_mode(mode)
        return self._views[mode]

    def base_key(self) -> dict[str, Any]:
        m = self.config.model
        # A from_pretrained model is named by its content, not its path (moving it recomputes nothing).
        key: dict[str, Any] = {
            "base": "mini" if m.base == "mini" else "pretrained",
            "pooling": m.pooling,
            "normalize": m.normalize,
            "max_length": m.max_length,
        }
        if m.base == "mini":
            key["mini"] = self.config.mini.model_dump(mode="json") if self.config.mini is not None else {}
            key["corpus"] = self.benchmark.fingerprint()
            key["device"] = self.device
            key["threads"] = self.threads
            # resolved (mini.threads = 0 counts this machine's cores): stages built on it must not share
            # a cache entry with ones built on another machine's base
            key["mlm_threads"] = self.base_threads()
        else:
            key["content"] = self.model_identity()
        return key

    def base_threads(self) -> int | None:
        """torch CPU threads the ``mini`` base encoder's MLM runs with (None: no ``mini`` base)."""
        if self.config.model.base != "mini":
            return None
        from harness.models.mini import mlm_threads

        return mlm_threads(self.config.mini, self.threads)

    def model_identity(self) -> dict[str, Any]:
        """Content identity of a ``from_pretrained`` base model (see :mod:`harness.models.identity`)."""
        if self._model_identity is None:
            from harness.models.identity import model_fingerprint

            self._model_identity = model_fingerprint(self.config.model.base, self.cache.root / "digests.json")
        return self._model_identity

    def preflight(self, sample: int = 200) -> dict[str, Any]:
        """Check, before any work, what would otherwise fail every cell (or silently score a random model):
        data, the model's weights against its declared architecture, tokenizer coverage.

        Returns facts for the manifest (model identity, unknown-token rate per language).
        """
        bench = self.benchmark
        from harness.validation import validate_benchmark

        # bad data (a truncated corpus, empty queries, duplicate doc ids) stops the run here, before any training
        facts: dict[str, Any] = {
            "data": validate_benchmark(
                bench,
                bench.languages,
                self.splits,
                [self.view(m) for m in self.modes],
                memo_dir=self.cache.root / "validated",
            )
        }
        if self.config.model.base == "mini" or not any(m.cls.needs_teacher for m in self.config.methods):
            return facts
        from transformers import AutoTokenizer

        from harness.models.identity import check_tokenizer

        facts["model"] = self.model_identity()
        try:
            tok = AutoTokenizer.from_pretrained(str(self.config.model.base), local_files_only=True)
        except (OSError, ValueError) as e:
            from harness.errors import DataUnavailableError

            raise DataUnavailableError(
                f"model.base {self.config.model.base!r}: cannot load its tokenizer "
                f"offline ({e}); the directory needs the tokenizer files"
            ) from None
        # the weights must fill the architecture config.json declares (else parameters are random): load it once now
        self.load_base()
        from harness import corpus

        rates = {}
        for lang in bench.languages:
            data = corpus.topics(bench, lang)  # queries only: a streamed corpus is not loaded
            texts = [data.queries[q] for q in sorted(data.queries)[:sample]]
            rates[lang] = round(check_tokenizer(tok, texts, where=f"model.base on {lang!r} queries"), 6)
        facts["unknown_token_rate"] = rates
        return facts

    def base_dir(self) -> Path | str:
        """Directory (or hub name) of the base encoder."""
        if self.config.model.base != "mini":
            return self.config.model.base
        if self._base_dir is None:
            from harness.models.mini import cached_mini

            self._base_dir = cached_mini(
                self.benchmark, self.config.mini, self.device, self.cache, self.progress, threads=self.threads
            )  # trained with mini.threads torch threads where set (harness.models.mini.mlm_threads)
        return self._base_dir

    def load_base(self):
        from harness.models.encoder import BiEncoder

        m = self.config.model
        return BiEncoder.from_pretrained(
            self.base_dir(),
            pooling=m.pooling,
            normalize=m.normalize,
            max_length=m.max_length,
            device=self.device,
            encode_batch_size=self.config.training.encode_batch_size,
        )

    def teacher_key(self, seed: int) -> dict[str, Any]:
        return {
            "base": self.base_key(),
            "teacher": self.config.teacher.model_dump(mode="json"),
            "data": self.train_fingerprint(),
            "seed": seed,
            "device": self.device,
            "threads": self.threads,
        }

    def train_fingerprint(self) -> str:
        """Identity of the teacher's training data: the adapter's
        :meth:`~harness.benchmarks.base.Benchmark.train_fingerprint` (MIRACL, local: the pivot's
        train files, not the evaluated languages; default: the whole benchmark's fingerprint)."""
        return self.benchmark.train_fingerprint()

    def _language_fingerprint(self, language: str, mode: str) -> str:
        if not hasattr(self, "_lang_fps"):
            self._lang_fps: dict[str, dict[str, str]] = {}
        if mode not in self._lang_fps:
            self._lang_fps[mode] = self.view(mode).language_fingerprints()
        return self._lang_fps[mode][language]

    def teacher(self, seed: int):
        """The seed's teacher: the base encoder fine-tuned on pivot retrieval pairs (cached)."""
        from harness.models.encoder import BiEncoder
        from harness.training import train_teacher

        if seed in self._teachers:
            return self._teachers[seed]

        def build(tmp: Path) -> None:
            base = self.load_base()
            teacher = train_teacher(
                base,
                self.benchmark.train_pairs(),
                self.config.teacher,
                seed=seed,
                device=self.device,
                progress=self.progress,
            )
            teacher.save_pretrained(tmp)

        path = self.cache.get_or_build("teacher", self.teacher_key(seed), build)
        m = self.config.model
        t = BiEncoder.from_pretrained(
            path,
            pooling=m.pooling,
            normalize=m.normalize,
            max_length=m.max_length,
            device=self.device,
            encode_batch_size=self.config.training.encode_batch_size,
        )
        t.eval()
        for p in t.parameters():
            p.requires_grad_(False)
        self._teachers = {seed: t}  # keep one: teachers are per seed, cells run seed by seed
        return t

    def world_measures(self, n: int = 1000, layer: int = -1) -> dict[str, Any] | None:
        """Teacher-level alignment measures per language (:mod:`harness.world_measures`), cached.

        Measured on the first seed's teacher: the benchmark's held-out measurement bitext where it
        has one (``measurement_bitext(language, n)``, the synthetic world), else its first ``n``
        bitext pairs.  Stage ``world-measures``, keyed by the teacher's key and the pairs' digest.
        None when no method uses a teacher or no language has bitext (a language whose bitext is
        unavailable is left out).
        """
        import json

        from harness import world_measures as wm

        if not any(m.cls.needs_teacher for m in self.config.methods):
            return None
        from harness.benchmarks.base import BitextPair
        from harness.errors import DataUnavailableError

        bench = self.benchmark
        bitext: dict[str, Sequence[BitextPair]] = {}
        held_out = False
        for lang in bench.languages:
            if lang == bench.pivot:
                continue
            try:
                measured = bench.measurement_bitext(lang, n)
                held_out = held_out or measured is not None
                pairs = tuple(measured if measured is not None else tuple(bench.bitext(lang))[:n])
            except DataUnavailableError:  # no bitext for this language (e.g. no bitext_dir): nothing to measure
                continue
            if pairs:
                bitext[lang] = pairs
        if not bitext:
            return None
        seed = self.config.seeds[0]
        key = {
            "version": wm.MEASURES_VERSION,
            "teacher": self.teacher_key(seed),
            "bitext": {lang: wm.bitext_digest(pairs) for lang, pairs in bitext.items()},
            "layer": layer,
        }

        def build(tmp: Path) -> None:
            rows = wm.measure(self.teacher(seed), bitext, dict(bench.tiers), layer)
            (tmp / "measures.json").write_text(json.dumps([r.to_dict() for r in rows]), encoding="utf-8")

        entry = self.cache.get_or_build("world-measures", key, build)
        rows = json.loads((entry / "measures.json").read_text(encoding="utf-8"))
        return {
            "teacher_seed": seed,
            "source": "held-out measurement bitext" if held_out else f"first {n} bitext pairs",
            "layer": layer,
            "languages": rows,
        }

    def matrix_world_measures(self, n: int = 1000, layer: int = -1) -> dict[str, Any] | None:
        """:meth:`world_measures` of every world of the matrix (``benchmark.worlds``), for the manifest.

        One world: :meth:`world_measures` itself.  Several: the same record with every world's rows,
        each row carrying its ``"world"``, and ``"worlds"``, the worlds measured (in the matrix's
        order; a world whose measures are None is left out).  None when no world has measures.
        """
        if len(self.worlds) == 1:
            return self.world_measures(n, layer)
        per = {w: self.for_world(w).world_measures(n, layer) for w in self.worlds}
        present = {w: m for w, m in per.items() if m is not None}
        if not present:
            return None
        first = next(iter(present.values()))
        return {
            "teacher_seed": first["teacher_seed"],
            "source": first["source"],
            "layer": layer,
            "worlds": list(present),
            "languages": [{"world": w, **row} for w, m in present.items() for row in m["languages"]],
        }

    # ----------------------------------------------------------------- cells
    def _compute(self, method: str) -> dict[str, Any]:
        return keys.compute_part(
            self.config.training, self.threads, self.device, self.config.method(method).cls.kind == "dense"
        )

    def _teacher_part(self, method: str, seed: int) -> dict[str, Any] | None:
        return self.teacher_key(seed) if self.config.method(method).cls.needs_teacher else None

    def fit_key(self, method: str, seed: int) -> str:
        """Content key of one (method, seed)'s fit: its training inputs only (:func:`harness.keys.fit_key`).

        The plugin, its version and options, the seed, the seed's teacher (:meth:`teacher_key`),
        the shared training settings, threads and device, the pivot, languages and tiers, and the
        benchmark's :meth:`~harness.benchmarks.base.Benchmark.training_fingerprints` (bitext,
        training pairs): never the evaluated corpus, queries or qrels.  Stage ``fit`` stores a
        fit-cached method's fit (:meth:`harness.plugin.Method.save`) under it, and its cells and
        runs are keyed by it plus the evaluation data (:meth:`cell_key`, :meth:`run_key`).  Two
        worlds share a fit only if their training data are identical.
        """
        entry = self.config.method(method)
        return keys.fit_key(entry, seed, self.benchmark, self._compute(method), self._teacher_part(method, seed))

    def cell_key(self, method: str, seed: int) -> str:
        """Content key of one cell's results (:func:`harness.keys.cell_key`).  A fit-cached method's: its
        :meth:`fit_key` and the evaluated data; any other method's: everything that can change its scores."""
        entry = self.config.method(method)
        return keys.cell_key(
            method,
            entry,
            seed,
            self.benchmark,
            {"metrics": self.config.metrics, "top_k": self.config.raw.top_k},
            self._compute(method),
            self._teacher_part(method, seed),
            self.fit_key(method, seed) if entry.cls.fit_cached() else None,
        )

    def plan(self) -> list[CellSpec]:
        """Cells of every world, world by world, each in a seed-major order (so one teacher is in memory at
        a time)."""
        return [spec for w in self.worlds for spec in self.for_world(w)._plan_world()]

    def _plan_world(self) -> list[CellSpec]:
        return [
            CellSpec(m.name, s, self.cell_key(m.name, s), self.world)
            for s in self.config.seeds
            for m in self.config.methods
        ]

    def load_cached_cell(self, spec: CellSpec) -> CellDone | None:
        """The stored cell of ``spec`` (:func:`harness.cell_store.load_cell`), or None."""
        if spec.world not in ("", self.world):
            return self.for_world(spec.world).load_cached_cell(spec)
        # a cell stored before results carried the mode was evaluated in its one mode
        return cell_store.load_cell(self.cache, spec, self.modes[0], self.world)

    def store_cell(self, out: CellOutput) -> None:
        """Put a finished cell into the cache (driver side; failed cells are never stored)."""
        if out.status != "done":
            return
        if out.world not in ("", self.world):
            self.for_world(out.world).store_cell(out)
            return
        cell_store.store_cell(self.cache, out)

    def run_key(self, method: str, seed: int, language: str, split: str, mode: str | None = None) -> dict[str, Any]:
        """What determines one (mode, language, split)'s stored run (top-``k`` with scores), nothing more
        (:func:`harness.keys.run_key`).

        Unlike :meth:`cell_key` it holds neither the metrics nor the tiers (evaluation
        re-scores stored runs), and a method declared ``seed_invariant`` (BM25) has no
        seed in it: its run is computed once per language and reused by every seed.  A
        fit-cached method's run is keyed by its fit and this language's data only, so an edit of
        another language's data reuses it.
        """
        entry = self.config.method(method)
        mode = mode or self.modes[0]
        fit = self.fit_key(method, seed) if entry.cls.fit_cached() else None
        by_language = fit is not None or not entry.cls.fit_uses_languages
        data: Any = (
            self._language_fingerprint(language, mode)
            if fit is not None
            else {"language": self._language_fingerprint(language, mode), "train": self.train_fingerprint()}
            if by_language
            else self.benchmark.fingerprint()
        )
        return keys.run_key(
            method,
            entry,
            seed,
            language=language,
            split=split,
            # the view of the data (e.g. cross-lingual queries over the pivot's corpus)
            served=self.view(mode).evaluation_identity(),
            data=data,
            languages=None if by_language else list(self.benchmark.languages),
            top_k=self.config.raw.top_k,
            index_dtype=self.config.raw.index.dtype if entry.cls.kind == "dense" else None,
            compute=self._compute(method),
            teacher=self._teacher_part(method, seed),
            fit=fit,
        )

    @property
    def splits(self) -> tuple[str, ...]:
        """The benchmark's query splits (``"test"``, and ``"dev"`` where it has a tuning split)."""
        return tuple(self.benchmark.splits)

    def log_run(self, event: str, spec: CellSpec, mode: str, language: str, split: str) -> None:
        from harness.index import cache_log

        cache_log(
            self.cache.root, event, "run", method=spec.method, seed=spec.seed, mode=mode, language=language, split=split
        )

    def cached_runs(self, spec: CellSpec) -> dict[tuple[str, str, str], dict[str, dict[str, float]]]:
        """Stored runs of ``spec`` by (mode, language, split) (those present)."""
        from harness.retrieval import read_trec_run

        out = {}
        for mode in self.modes:
            for lang in self.benchmark.languages:
                for sp in self.splits:
                    d = self.cache.lookup("run", self.run_key(spec.method, spec.seed, lang, sp, mode))
                    if d is not None:
                        out[(mode, lang, sp)] = read_trec_run(d / "run.trec")
                        self.log_run("hit", spec, mode, lang, sp)
        return out

    def evaluate(
        self,
        retriever: Any,
        spec: CellSpec,
        label: str = "",
        stored: dict[tuple[str, str, str], dict[str, dict[str, float]]] | None = None,
    ) -> dict[str, Any]:
        """Retrieve and score every language on every split, in every mode (:func:`harness.cell_evaluation.evaluate`)."""
        return cell_evaluation.evaluate(self, retriever, spec, label, stored)

    def _fitted(self, spec: CellSpec, method: Any, ctx: Any, checkpoints: list[pd.DataFrame]) -> tuple[Any, str]:
        """``method``'s fitted retriever for ``spec``, and how it was obtained: ``"computed"`` (fitted now and
        stored in stage ``fit``), ``"loaded"`` (from stage ``fit``: no training) or ``"off: <reason>"``
        (fitted now, not stored: the method implements no :meth:`~harness.plugin.Method.save`/``load``, or
        its retriever could not be saved).

        Budget-curve checkpoints (``ctx.train(eval_at=...)``) are evaluated as they come during a fit and,
        for a fit-cached method, saved with the fit (``checkpoints/<i>/`` and their budgets in ``fit.json``);
        a loaded fit evaluates its stored checkpoints the same way, so a curve never needs a re-fit.
        ``checkpoints`` receives each checkpoint's results (:func:`~harness.cell_evaluation.with_budget`); ``ctx.diagnostics``
        the fit's diagnostics (stored with the fit, restored on load).  The stage is written atomically
        (:meth:`harness.cache.Cache.get_or_build`: a temporary directory renamed into place).
        """
        from harness.index import cache_log

        entry = self.config.method(spec.method)
        unsaved: list[str] = []

        def fit(save_to: Path | None) -> Any:
            saved: list[dict[str, Any]] = []

            def checkpoint(encoder: Any, budget: dict[str, Any]) -> None:
                ev = self.evaluate(encoder, spec, label=f"checkpoint at {budget['steps']} steps")
                checkpoints.append(with_budget(ev["results"], budget))
                if save_to is not None and not unsaved:
                    try:
                        method.save(encoder, save_to / "checkpoints" / str(len(saved)))
                        saved.append(dict(budget))
                    except (NotImplementedError, TypeError) as e:
                        unsaved.append(f"checkpoint not saved ({type(e).__name__}: {e})")

            ctx.checkpoint = checkpoint
            # torch's global generator is forked and seeded from the method's own stream, so
            # draws outside ctx.train (e.g. initialising a new layer) are reproducible too.
            with seeded_torch(seeding.torch_seed(spec.seed, "method", entry.plugin, "fit")):
                retriever = method.fit(ctx)
            _check_retriever(retriever, spec.method)
            if save_to is not None:
                try:
                    if unsaved:
                        raise TypeError(unsaved[0])
                    method.save(retriever, save_to / "retriever")
                except (NotImplementedError, TypeError) as e:
                    raise _Unsaved(retriever, f"{type(e).__name__}: {e}") from e
                meta = {"method": spec.method, "diagnostics": _jsonable(ctx.diagnostics), "checkpoints": saved}
                (save_to / "fit.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            return retriever

        if not entry.cls.fit_cached():
            return fit(None), "off: the method implements no save/load (harness.plugin.Method.save)"
        key = {"key": self.fit_key(spec.method, spec.seed)}
        built: list[Any] = []
        try:
            d = self.cache.get_or_build("fit", key, lambda tmp: built.append(fit(tmp)))
        except _Unsaved as e:  # fitted, but its retriever cannot be saved: used as it is, nothing stored
            cache_log(self.cache.root, "unsaved", "fit", method=spec.method, seed=spec.seed, reason=e.reason)
            return e.retriever, f"off: {e.reason}"
        if built:
            cache_log(self.cache.root, "computed", "fit", method=spec.method, seed=spec.seed)
            return built[0], "computed"
        meta = json.loads((d / "fit.json").read_text(encoding="utf-8"))
        ctx.diagnostics.update(meta["diagnostics"])
        for i, budget in enumerate(meta["checkpoints"]):
            encoder = method.load(d / "checkpoints" / str(i), ctx)
            ev = self.evaluate(encoder, spec, label=f"checkpoint at {budget['steps']} steps")
            checkpoints.append(with_budget(ev["results"], budget))
        retriever = method.load(d / "retriever", ctx)
        _check_retriever(retriever, spec.method)
        cache_log(self.cache.root, "hit", "fit", method=spec.method, seed=spec.seed)
        return retriever, "loaded"

    def run_cell(self, spec: CellSpec) -> CellOutput:
        """Compute one cell (no cache lookup); failures are returned, not raised."""
        from harness.plugin import FitContext

        if spec.world not in ("", self.world):
            return self.for_world(spec.world).run_cell(spec)
        timings: dict[str, float] = {}
        entry = self.config.method(spec.method)
        try:
            stored = self.cached_runs(spec)
            wants_curve = bool(getattr(entry.options, "eval_at", None))
            if not wants_curve and len(stored) == len(self.modes) * len(self.benchmark.languages) * len(self.splits):
                # every run is stored: re-score them (e.g. a metric was added); no teacher, no fit, no encoding
                ev = self.evaluate(None, spec, stored=stored)
                timings.update(retrieve=0.0, evaluate=ev["evaluate"])
                return _done(spec, entry, ev, timings, {"runs_from_cache": True}, world=self.world)
            t0 = time.perf_counter()
            teacher = self.teacher(spec.seed) if entry.cls.needs_teacher else None
            timings["teacher"] = time.perf_counter() - t0
            method = entry.cls(entry.options)
            # Streams are the plugin's, not the variant's: variants of one plugin see the same data order
            # and dropout (common random numbers), so their differences come from their options.
            ctx = FitContext(
                benchmark=self.benchmark,
                teacher=teacher,
                seed=spec.seed,
                rng=method_data_rng(spec.seed, entry.plugin),
                train_seed=method_train_seed(spec.seed, entry.plugin),
                device=self.device,
                method=spec.method,
                cache=Cache(self.cache.root / "methods" / entry.plugin),
                training=self.config.training,
                progress=self.progress,
                base_model=self.base_dir() if entry.cls.needs_teacher else None,
            )
            checkpoints: list[pd.DataFrame] = []
            t0 = time.perf_counter()
            retriever, fit_cache = self._fitted(spec, method, ctx, checkpoints)
            timings["fit"] = time.perf_counter() - t0
            ev = self.evaluate(retriever, spec, stored=stored)
            timings["retrieve"] = ev["retrieve"]
            timings["evaluate"] = ev["evaluate"]
            budgets = None
            if checkpoints:  # the curve ends with the final result at the final budget
                final = with_budget(ev["results"], ctx.diagnostics.get("budget") or {})
                budgets = pd.concat([*checkpoints, final], ignore_index=True)
            return _done(
                spec, entry, ev, timings, {**ctx.diagnostics, "fit_cache": fit_cache}, budgets, world=self.world
            )
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):  # the environment failed, not the cell: stop the run
                raise
            return CellFailed.of(replace(spec, world=self.world), e, timings)
        except Exception as e:  # noqa: BLE001 - a failed cell must not stop the matrix
            return CellFailed.of(replace(spec, world=self.world), e, timings)


def _done(
    spec: CellSpec,
    entry: Any,
    ev: dict[str, Any],
    timings: dict[str, float],
    info: dict[str, Any],
    budgets: pd.DataFrame | None = None,
    *,
    world: str = "",
) -> CellOutput:
    """A finished cell from an evaluation (``Engine.evaluate``): test results, runs, dev results, info."""
    if entry.cls.seed_invariant:
        info["seed_invariant"] = True
    if ev.get("left_out"):  # queries the retriever returned nothing for (scored 0): in the manifest's cell info
        info["queries_left_out"] = ev["left_out"]
    return CellDone(
        spec.method,
        spec.seed,
        spec.key,
        ev["results"]["test"],
        ev["runs"],
        timings,
        info=_jsonable(info),
        budgets=budgets,
        dev_results=ev["results"].get("dev"),
        world=world,
    )


class _Unsaved(Exception):
    """A fit whose retriever could not be saved (raised out of the ``fit`` stage's build, so nothing is stored)."""

    def __init__(self, retriever: Any, reason: str):
        super().__init__(reason)
        self.retriever, self.reason = retriever, reason


def _check_retriever(retriever: Any, method: str) -> None:
    """``retriever`` is an Encoder or a Searcher, else a TypeError naming the method."""
    from harness.plugin import Encoder, Searcher

    if not isinstance(retriever, (Encoder, Searcher)):
        raise TypeError(
            f"method {method!r}: fit() returned {type(retriever).__name__}, which is neither "
            "an Encoder (encode_queries/encode_documents) nor a Searcher (search)"
        )


def _jsonable(obj: Any) -> Any:
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return json.loads(json.dumps(obj, default=str))
