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
"""

from __future__ import annotations

import errno
import functools
import json
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import seeding
from harness.cache import Cache
from harness.config import HarnessConfig, make_benchmark
from harness.hashing import hash_json

RESULT_COLUMNS = ["world", "method", "seed", "mode", "language", "tier", "query_id", "metric", "value"]


def run_name(mode: str, language: str, modes: Sequence[str]) -> str:
    """A cell's name for the run of ``(mode, language)``: ``language`` in a one-mode run, else ``mode/language``
    (``runs/<method>/<seed>/<name>.trec``)."""
    return language if len(modes) == 1 else f"{mode}/{language}"


def with_mode_column(results: pd.DataFrame, mode: str) -> pd.DataFrame:
    """``results`` with a ``mode`` column (results of cells cached before modes existed lack it; their key
    names their one mode)."""
    if "mode" in results.columns:
        return results
    out = results.copy()
    out.insert(out.columns.get_loc("language") if "language" in out.columns else 0, "mode", mode)
    return out


def with_world_column(frame: pd.DataFrame, world: str) -> pd.DataFrame:
    """``frame`` with a first column ``world`` (string) set to ``world``.

    A cell's stored results hold no world label (its key names the world's data); the label is
    the run's (``HarnessConfig.worlds``), set whenever a cell is loaded or computed.
    """
    out = frame.drop(columns="world") if "world" in frame.columns else frame.copy()
    out.insert(0, "world", pd.Series([world] * len(out), index=out.index, dtype="string"))
    return out


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


@dataclass(frozen=True)
class CellSpec:
    """One (world, method, seed) of the matrix, with the content key of its results.

    ``world`` is one of ``HarnessConfig.worlds`` (``""`` in a spec made by hand: the engine's
    first world).
    """

    method: str
    seed: int
    key: str
    world: str = ""

    @property
    def label(self) -> str:
        return f"{self.method}/seed={self.seed}"


@dataclass
class CellOutput:
    """What running (or loading) a cell produced."""

    method: str
    seed: int
    key: str
    status: str  # "done" | "failed"
    results: pd.DataFrame | None = None
    runs: dict[str, str] = field(default_factory=dict)  # language -> TREC run text
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    from_cache: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    #: checkpoint results (budget curves): RESULT_COLUMNS + split, budget_steps, budget_examples, budget_seconds
    budgets: pd.DataFrame | None = None
    #: per-query results on the benchmark's dev split (tuning only), RESULT_COLUMNS
    dev_results: pd.DataFrame | None = None
    #: the cell's world (``CellSpec.world``)
    world: str = ""


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
            check = getattr(self._benchmark, "check_available", None)
            if check is not None:  # fail in seconds on missing data, not after training teachers
                check()
            for lang in self._benchmark.languages:
                self._benchmark.check_language(lang)
        return self._benchmark

    @property
    def modes(self) -> tuple[str, ...]:
        """The benchmark's evaluation modes (each cell is evaluated in every one; it trains once)."""
        return tuple(getattr(self.benchmark, "modes", ("monolingual",)))

    def view(self, mode: str):
        """The benchmark serving ``mode``'s evaluation data (:meth:`Benchmark.with_mode`), memoised."""
        if mode not in self._views:
            fn = getattr(self.benchmark, "with_mode", None)
            self._views[mode] = fn(mode) if fn is not None else self.benchmark
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
                self._splits(),
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
        """Identity of the teacher's training data: the adapter's ``train_fingerprint()``
        (MIRACL: the pivot's train files, not the evaluated languages), else the whole
        benchmark's fingerprint."""
        fn = getattr(self.benchmark, "train_fingerprint", None)
        return fn() if fn is not None else self.benchmark.fingerprint()

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
        held_out = getattr(bench, "measurement_bitext", None)
        bitext: dict[str, Sequence[BitextPair]] = {}
        for lang in bench.languages:
            if lang == bench.pivot:
                continue
            try:
                pairs = tuple(held_out(lang, n) if held_out is not None else tuple(bench.bitext(lang))[:n])
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
            "source": "held-out measurement bitext" if held_out is not None else f"first {n} bitext pairs",
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
    def cell_key(self, method: str, seed: int) -> str:
        entry = self.config.method(method)
        key = {
            "method": method,
            "plugin": entry.plugin,
            "version": entry.cls.version,
            "options": entry.options.model_dump(mode="json"),
            "seed": seed,
            "data": self.benchmark.fingerprint(),
            # what the adapter serves from that data beyond its fingerprint (e.g. the synthetic world's mode);
            # not its options wholesale, which hold file paths
            "served": self.benchmark.evaluation_identity(),
            "languages": list(self.benchmark.languages),
            "tiers": dict(self.benchmark.tiers),
            "metrics": self.config.metrics,
            "top_k": self.config.raw.top_k,
            # encode_batch_size stays in the key: batch shapes can change float rounding (and so ties);
            # the thread count is the resolved one (0 = all cores means this machine's count).
            "training": self.config.training.model_dump(mode="json", exclude={"num_threads"}),
            "threads": self.threads if entry.cls.kind == "dense" else "any",
            "teacher": self.teacher_key(seed) if entry.cls.needs_teacher else None,
            "device": self.device if entry.cls.kind == "dense" else "any",
        }
        return hash_json(key)

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

    def load_cached_cell(self, spec: CellSpec) -> CellOutput | None:
        if spec.world not in ("", self.world):
            return self.for_world(spec.world).load_cached_cell(spec)
        d = self.cache.lookup("cell", {"key": spec.key})
        if d is None:
            return None
        meta = json.loads((d / "cell.json").read_text())
        runs = {
            p.relative_to(d / "runs").with_suffix("").as_posix(): p.read_text()
            for p in sorted((d / "runs").rglob("*.trec"))
        }
        mode = self.modes[0]  # a cell stored before results carried the mode was evaluated in its one mode
        budgets = pd.read_parquet(d / "budgets.parquet") if (d / "budgets.parquet").is_file() else None
        dev = pd.read_parquet(d / "dev_results.parquet") if (d / "dev_results.parquet").is_file() else None
        budgets = None if budgets is None else with_world_column(with_mode_column(budgets, mode), self.world)
        dev = None if dev is None else with_world_column(with_mode_column(dev, mode), self.world)
        return CellOutput(
            method=spec.method,
            seed=spec.seed,
            key=spec.key,
            status="done",
            results=with_world_column(with_mode_column(pd.read_parquet(d / "results.parquet"), mode), self.world),
            runs=runs,
            timings=meta.get("timings", {}),
            from_cache=True,
            info=meta.get("info", {}),
            budgets=budgets,
            dev_results=dev,
            world=self.world,
        )

    def store_cell(self, out: CellOutput) -> None:
        """Put a finished cell into the cache (driver side; failed cells are never stored)."""
        if out.status != "done":
            return
        if out.world not in ("", self.world):
            self.for_world(out.world).store_cell(out)
            return

        def build(tmp: Path) -> None:
            assert out.results is not None  # a "done" cell always has results
            out.results.to_parquet(tmp / "results.parquet", index=False)
            if out.budgets is not None:
                out.budgets.to_parquet(tmp / "budgets.parquet", index=False)
            if out.dev_results is not None:
                out.dev_results.to_parquet(tmp / "dev_results.parquet", index=False)
            (tmp / "runs").mkdir()
            for name, text in out.runs.items():  # name: language, or mode/language
                (tmp / "runs" / f"{name}.trec").parent.mkdir(parents=True, exist_ok=True)
                (tmp / "runs" / f"{name}.trec").write_text(text)
            (tmp / "cell.json").write_text(
                json.dumps({"method": out.method, "seed": out.seed, "timings": out.timings, "info": out.info}, indent=1)
            )

        self.cache.get_or_build("cell", {"key": out.key}, build)

    def run_key(self, method: str, seed: int, language: str, split: str, mode: str | None = None) -> dict[str, Any]:
        """What determines one (mode, language, split)'s stored run (top-``k`` with scores), nothing more.

        Unlike :meth:`cell_key` it holds neither the metrics nor the tiers (evaluation
        re-scores stored runs), and a method declared ``seed_invariant`` (BM25) has no
        seed in it: its run is computed once per language and reused by every seed.
        """
        entry = self.config.method(method)
        invariant = bool(getattr(entry.cls, "seed_invariant", False))
        dense = entry.cls.kind == "dense"
        mode = mode or self.modes[0]
        return {
            "method": method,
            "plugin": entry.plugin,
            "version": entry.cls.version,
            "options": entry.options.model_dump(mode="json"),
            "seed": None if invariant else seed,
            # a method whose fit ignores the language set depends on this language's data only
            "data": (
                self.benchmark.fingerprint()
                if entry.cls.fit_uses_languages
                else {"language": self._language_fingerprint(language, mode), "train": self.train_fingerprint()}
            ),
            # the view of the data (e.g. cross-lingual queries over the pivot's corpus): the fingerprint above
            # covers the whole data and is the same in every mode
            "served": self.view(mode).evaluation_identity(),
            "languages": list(self.benchmark.languages) if entry.cls.fit_uses_languages else None,
            "language": language,
            "split": split,
            "top_k": self.config.raw.top_k,
            "training": self.config.training.model_dump(mode="json", exclude={"num_threads"}),
            "threads": self.threads if dense else "any",
            "teacher": self.teacher_key(seed) if entry.cls.needs_teacher else None,
            "device": self.device if dense else "any",
            "index_dtype": self.config.raw.index.dtype if dense else None,
        }

    def _splits(self) -> tuple[str, ...]:
        return tuple(getattr(self.benchmark, "splits", ("test",)))

    def _log_run(self, event: str, spec: CellSpec, mode: str, language: str, split: str) -> None:
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
                for sp in self._splits():
                    d = self.cache.lookup("run", self.run_key(spec.method, spec.seed, lang, sp, mode))
                    if d is not None:
                        out[(mode, lang, sp)] = read_trec_run(d / "run.trec")
                        self._log_run("hit", spec, mode, lang, sp)
        return out

    def evaluate(
        self,
        retriever: Any,
        spec: CellSpec,
        label: str = "",
        stored: dict[tuple[str, str, str], dict[str, dict[str, float]]] | None = None,
    ) -> dict[str, Any]:
        """Retrieve and score every language on every split of the benchmark, in every mode.

        Returns ``{"results": {split: per-query DataFrame}, "runs": {name: TREC text of the
        test split}, "retrieve": s, "evaluate": s, "left_out": {"<name>:<split>": {"n", "of",
        "examples"}}}`` (``name``: :func:`run_name`; ``left_out``: queries a run ranks nothing
        for, which every metric scores 0).  The
        results carry the ``mode``; the encoder is the same in every mode (a cell trains once).
        A corpus's documents are encoded once for all splits, languages and modes that search
        it (one document index, :mod:`harness.index`: in cross-lingual mode every language
        searches the pivot's corpus; a checkpoint's private indexes are shared the same way
        within this call and removed at its end).  ``stored`` runs (from :meth:`cached_runs`)
        are evaluated as they are; the final evaluation of a cell (no ``label``) stores every
        run it computes in the ``run`` stage.
        """
        from harness import corpus
        from harness.evaluation import evaluate_per_query
        from harness.index import discard_index
        from harness.retrieval import trec_run_text

        stored = stored or {}
        splits = self._splits()
        modes = self.modes
        frames: dict[str, list[pd.DataFrame]] = {sp: [] for sp in splits}
        runs: dict[str, str] = {}
        t_ret = t_eval = 0.0
        k = self.config.raw.top_k
        tag = f"{spec.method}.{spec.seed}"
        private: dict[Any, Any] = {}  # (corpus, document language) -> a checkpoint's index, shared within this call
        left_out: dict[str, dict[str, Any]] = {}  # "<run name>:<split>" -> queries the run ranks nothing for
        try:
            for mode in modes:
                view = self.view(mode)
                for lang in self.benchmark.languages:
                    tops = [corpus.topics(view, lang, sp) for sp in splits]
                    todo = [i for i, sp in enumerate(splits) if (mode, lang, sp) not in stored]
                    split_runs = {
                        i: stored[(mode, lang, sp)] for i, sp in enumerate(splits) if (mode, lang, sp) in stored
                    }
                    if todo:
                        t0 = time.perf_counter()
                        where = (
                            f"{spec.label} language={lang}"
                            + (f" mode={mode}" if len(modes) > 1 else "")
                            + (f" ({label})" if label else "")
                        )
                        got = retrieve_splits(
                            retriever,
                            view,
                            lang,
                            [tops[i].queries for i in todo],
                            k,
                            self.device,
                            root=self.cache.root,
                            index=self.config.raw.index,
                            label=where,
                            cache=not label,  # checkpoints: private indexes, not kept
                            private=private,
                            runner=self.shard_runner,
                            unit_norm=self.config.model.normalize,
                        )
                        t_ret += time.perf_counter() - t0
                        for i, run in zip(todo, got):
                            split_runs[i] = run
                            if not label:
                                text = trec_run_text(run, tag=tag, k=k)
                                if splits[i] == "test":
                                    runs[run_name(mode, lang, modes)] = text
                                self.cache.get_or_build(
                                    "run",
                                    self.run_key(spec.method, spec.seed, lang, splits[i], mode),
                                    functools.partial(_write_run, text=text),
                                )
                                self._log_run("computed", spec, mode, lang, splits[i])
                    for i, (sp, top) in enumerate(zip(splits, tops)):
                        run = split_runs[i]
                        left = left_out_queries(top.queries, run)
                        if left:  # scored 0 by every metric (trec_eval -c): counted, so a reader can see it
                            left_out[f"{run_name(mode, lang, modes)}:{sp}"] = {
                                "n": len(left),
                                "of": len(top.queries),
                                "examples": left[:5],
                            }
                        t0 = time.perf_counter()
                        df = evaluate_per_query(top.qrels, run, self.config.metrics)
                        t_eval += time.perf_counter() - t0
                        df.insert(0, "tier", top.tier)
                        df.insert(0, "language", lang)
                        df.insert(0, "mode", mode)
                        df.insert(0, "seed", spec.seed)
                        df.insert(0, "method", spec.method)
                        df.insert(0, "world", self.world)
                        frames[sp].append(df)
                        name = run_name(mode, lang, modes)
                        if sp == "test" and not label and name not in runs:  # checkpoints keep no runs
                            runs[name] = trec_run_text(run, tag=tag, k=k)
        finally:
            for idx in private.values():
                discard_index(idx)
        results = {}
        for sp, fs in frames.items():
            r = pd.concat(fs, ignore_index=True)[RESULT_COLUMNS]
            r["seed"] = r["seed"].astype("int64")
            r["world"] = r["world"].astype("string")
            bad = r["value"].isna()
            if bad.any():
                raise FloatingPointError(f"{int(bad.sum())} NaN metric values for {spec.label} {label}".strip())
            results[sp] = r
        return {"results": results, "runs": runs, "retrieve": t_ret, "evaluate": t_eval, "left_out": left_out}

    def run_cell(self, spec: CellSpec) -> CellOutput:
        """Compute one cell (no cache lookup); failures are returned, not raised."""
        from harness.plugin import Encoder, FitContext, Searcher

        if spec.world not in ("", self.world):
            return self.for_world(spec.world).run_cell(spec)
        timings: dict[str, float] = {}
        entry = self.config.method(spec.method)
        try:
            stored = self.cached_runs(spec)
            wants_curve = bool(getattr(entry.options, "eval_at", None))
            if not wants_curve and len(stored) == len(self.modes) * len(self.benchmark.languages) * len(self._splits()):
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

            def checkpoint(encoder: Any, budget: dict[str, Any]) -> None:
                ev = self.evaluate(encoder, spec, label=f"checkpoint at {budget['steps']} steps")
                checkpoints.append(_with_budget(ev["results"], budget))

            ctx.checkpoint = checkpoint
            t0 = time.perf_counter()
            # torch's global generator is forked and seeded from the method's own stream, so
            # draws outside ctx.train (e.g. initialising a new layer) are reproducible too.
            with seeded_torch(seeding.torch_seed(spec.seed, "method", entry.plugin, "fit")):
                retriever = method.fit(ctx)
            timings["fit"] = time.perf_counter() - t0
            if not isinstance(retriever, (Encoder, Searcher)):
                raise TypeError(
                    f"method {spec.method!r}: fit() returned {type(retriever).__name__}, which is neither "
                    "an Encoder (encode_queries/encode_documents) nor a Searcher (search)"
                )
            ev = self.evaluate(retriever, spec, stored=stored)
            timings["retrieve"] = ev["retrieve"]
            timings["evaluate"] = ev["evaluate"]
            budgets = None
            if checkpoints:  # the curve ends with the final result at the final budget
                final = _with_budget(ev["results"], ctx.diagnostics.get("budget") or {})
                budgets = pd.concat([*checkpoints, final], ignore_index=True)
            return _done(spec, entry, ev, timings, dict(ctx.diagnostics), budgets, world=self.world)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):  # the environment failed, not the cell: stop the run
                raise
            return CellOutput(
                spec.method,
                spec.seed,
                spec.key,
                "failed",
                timings=timings,
                error=f"{type(e).__name__}: {e}",
                traceback=traceback.format_exc(),
                world=self.world,
            )
        except Exception as e:  # noqa: BLE001 - a failed cell must not stop the matrix
            return CellOutput(
                spec.method,
                spec.seed,
                spec.key,
                "failed",
                timings=timings,
                error=f"{type(e).__name__}: {e}",
                traceback=traceback.format_exc(),
                world=self.world,
            )


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
    return CellOutput(
        spec.method,
        spec.seed,
        spec.key,
        "done",
        ev["results"]["test"],
        ev["runs"],
        timings,
        info=_jsonable(info),
        budgets=budgets,
        dev_results=ev["results"].get("dev"),
        world=world,
    )


def _with_budget(results: dict[str, pd.DataFrame], budget: dict[str, Any]) -> pd.DataFrame:
    """Per-split results of one checkpoint as budget-curve rows (``split`` and ``budget_*`` columns)."""
    frames = []
    for split, df in results.items():
        df = df.copy()
        df["split"] = split
        for k in ("steps", "examples", "seconds"):
            df[f"budget_{k}"] = budget.get(k)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _write_run(tmp: Path, text: str) -> None:
    (tmp / "run.trec").write_text(text)


def _jsonable(obj: Any) -> Any:
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return json.loads(json.dumps(obj, default=str))


class NonFiniteOutputError(FloatingPointError):
    """An encoder or searcher returned NaN or infinite values (a broken model, not a ranking)."""


def _check_finite(x: Any, what: str, label: str) -> None:
    import torch

    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        rows = int(bad.reshape(len(t), -1).any(-1).sum()) if t.ndim else 1
        raise NonFiniteOutputError(
            f"{label}: {what} contain NaN or infinite values ({rows} of {len(t) if t.ndim else 1} rows); "
            "the model's weights are probably broken (diverged training): lower the method's learning rate, "
            "or check the model directory"
        )


#: Tolerance of the unit-norm contract: every embedding row must satisfy ``| ||e||_2 - 1 | <= UNIT_NORM_TOL``.
#: Float32 normalisation leaves ~1e-7; a half-precision model normalised in float32 stays under 1e-6;
#: 1e-3 leaves a wide margin while still catching any real rescaling (a row scaled by 1.001 is caught).
UNIT_NORM_TOL = 1e-3


class UnnormalisedEmbeddingError(ValueError):
    """An encoder returned rows that are not L2-normalised (``model.normalize = true``): scores would not be cosines."""


def _check_unit_norm(x: Any, what: str, label: str) -> None:
    """Raise :class:`UnnormalisedEmbeddingError` if a row of ``x`` (``(n, dim)``) has an L2 norm off 1 by more than
    :data:`UNIT_NORM_TOL`; the message names ``label`` (method, seed, language), the side and the norms seen."""
    import torch

    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 2 or t.shape[0] == 0:
        return
    norms = torch.linalg.vector_norm(t.detach().double(), dim=1)  # (n,)
    off = (norms - 1.0).abs() > UNIT_NORM_TOL
    if bool(off.any()):
        side = "query" if what.startswith("query") else "document"
        lo, hi = float(norms.min()), float(norms.max())
        sample = ", ".join(f"{v:.4g}" for v in norms[off][:5].tolist())
        raise UnnormalisedEmbeddingError(
            f"{label}: {side}-side embeddings are not L2-normalised: {int(off.sum())} of {len(norms)} rows have "
            f"norms off 1 by more than {UNIT_NORM_TOL:g} (norms seen {lo:.4g} to {hi:.4g}; e.g. {sample}). "
            "Scores are inner products of unit vectors (cosines): return "
            "torch.nn.functional.normalize(x, dim=-1) from encode_queries/encode_documents, "
            "or set model.normalize = false to search by raw inner product"
        )


def _check_embeddings(x: Any, what: str, label: str, unit_norm: bool) -> None:
    """Finite values (:func:`_check_finite`), then unit norms where the config promises them."""
    _check_finite(x, what, label)
    if unit_norm:
        _check_unit_norm(x, what, label)


class SearcherOutputError(ValueError):
    """A searcher returned doc ids that are not in the corpus, or queries it was not asked."""


def _check_searcher_run(run: Mapping[str, Mapping[str, float]], queries: Mapping[str, str], corpus: Any, label: str):
    """Every ranked doc id is in ``corpus`` and every query id was asked; else :class:`SearcherOutputError`."""
    strange = [q for q in run if q not in queries]
    if strange:
        raise SearcherOutputError(
            f"{label}: the searcher returned {len(strange)} query ids it was not given (e.g. {strange[:3]}); "
            "search() must key its result by the ids of the queries it receives"
        )
    unknown: list[str] = []
    n_unknown = 0
    for docs in run.values():
        for d in docs:
            if d not in corpus:
                n_unknown += 1
                if len(unknown) < 5 and d not in unknown:
                    unknown.append(d)
    if n_unknown:
        raise SearcherOutputError(
            f"{label}: the searcher ranked {n_unknown} doc ids that are not in the corpus (e.g. {unknown}); "
            "search() must return ids of the documents in data.corpus"
        )


def left_out_queries(queries: Mapping[str, Any], run: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Ids of ``queries`` the run ranks nothing for (absent or empty): scored 0 by every metric."""
    return [q for q in sorted(queries) if not run.get(q)]


def retrieve_splits(
    retriever,
    bench,
    language: str,
    query_sets: Sequence[Mapping[str, str]],
    k: int,
    device: str,
    *,
    root: Path,
    index=None,
    label: str = "",
    cache: bool = True,
    runner: Any = None,
    private: dict | None = None,
    unit_norm: bool = False,
) -> list[dict[str, dict[str, float]]]:
    """Top-``k`` runs of several query sets over ``language``'s corpus, ranked by the
    harness's tie rule (:mod:`harness.search`).

    ``private`` (with ``cache=False``): the caller's memo of uncached indexes, shared by the
    languages and modes that search one corpus; the caller removes them
    (:func:`harness.index.dense_run`).

    A dense retriever goes through the cached document index (encoded once for every query
    set, its shards by ``runner``) and sharded exact search (:func:`harness.index.dense_run`); a searcher ranks the
    corpus itself.  Non-finite embeddings or scores fail the cell
    (:class:`NonFiniteOutputError`, naming ``label``): a NaN ranking is arbitrary and must
    never be scored as a result.  With ``unit_norm`` (``model.normalize = true``, the default)
    every query and document embedding must have L2 norm 1 within :data:`UNIT_NORM_TOL`
    (:class:`UnnormalisedEmbeddingError`): unnormalised rows turn cosine search into a
    norm-weighted one and silently change the ranking; an encoder whose scores are meant as
    raw inner products says so with an attribute ``unit_norm = False``.  A searcher's run may name only
    documents of the corpus and only the queries it was given (:class:`SearcherOutputError`);
    queries it leaves out score 0 and are counted by the caller (:func:`left_out_queries`).
    """
    from harness.index import dense_run
    from harness.plugin import Encoder
    from harness.search import rank_run

    label = label or f"language={language}"
    if isinstance(retriever, Encoder):
        kw = {} if index is None else {"dtype": index.dtype, "shard_size": index.shard_size}
        return dense_run(
            retriever,
            bench,
            language,
            query_sets,
            k,
            root=root,
            device=device,
            # an encoder declaring unit_norm = False (e.g. language-centring without renormalize) opts out
            check=functools.partial(
                _check_embeddings, label=label, unit_norm=unit_norm and getattr(retriever, "unit_norm", True)
            ),
            cache=cache,
            runner=runner,
            private=private,
            **kw,
        )
    data = bench.language_data(language)
    out = []
    for queries in query_sets:
        qids = sorted(queries)
        run = retriever.search({q: queries[q] for q in qids}, data, k)
        _check_finite([s for r in run.values() for s in r.values()] or [0.0], "search scores", label)
        _check_searcher_run(run, queries, data.corpus, label)
        out.append(rank_run(run, k))
    return out


#: Engines of this process by (config text, cache root, device): a worker process (local pool
#: or Ray) builds one per config and reuses its memoised benchmark, base encoder and teachers
#: across the cells it runs.  Engines hold no per-cell state, so reuse changes no result.
_WORKER_ENGINES: dict[tuple[str, str, str | None, str | None], "Engine"] = {}


def _worker_engine(config_text: str, config_source: str, cache_root: str | None, device: str | None) -> "Engine":
    key = (config_text, config_source, cache_root, device)
    engine = _WORKER_ENGINES.get(key)
    if engine is None:
        import tomllib

        from harness.config import config_from_dict

        config = config_from_dict(tomllib.loads(config_text), source=config_source, text=config_text)
        cache = Cache(cache_root) if cache_root else Cache.default()
        engine = Engine(config, cache, progress=False, device=device)
        _WORKER_ENGINES.clear()  # one config at a time: do not hold another run's teachers
        _WORKER_ENGINES[key] = engine
    return engine


def run_cell_timed(engine: "Engine", spec: CellSpec, timeout: float | None) -> CellOutput:
    """``engine.run_cell(spec)`` stopped after ``timeout`` seconds (``[executor] cell_timeout``; None: no limit).

    The shared stages the cell needs (base encoder, the seed's teacher) are built or loaded
    first, outside the limit: the timeout measures the cell's own work (fit, encoding,
    retrieval, evaluation).  A cell past its limit is stopped (:func:`harness.interrupts.cell_deadline`:
    it unwinds, its temporary files are removed) and returned as failed, naming the cell and the limit.
    """
    from harness.interrupts import CellTimeout, cell_deadline

    if timeout is not None and engine.config.method(spec.method).cls.needs_teacher:
        try:
            engine.teacher(spec.seed)
        except Exception:  # noqa: BLE001 - the cell itself reports the error, with its traceback
            pass
    t0 = time.perf_counter()
    try:
        with cell_deadline(timeout, spec.label):
            return engine.run_cell(spec)
    except CellTimeout as e:
        return CellOutput(
            spec.method,
            spec.seed,
            spec.key,
            "failed",
            timings={"timeout": round(time.perf_counter() - t0, 3)},
            error=f"CellTimeout: {e}",
            traceback=traceback.format_exc(),
        )


def execute_cell_remote(
    config_text: str,
    config_source: str,
    spec: CellSpec,
    cache_root: str | None,
    device: str | None = None,
    shard_runner: Any = None,
    timeout: float | None = None,
) -> CellOutput:
    """Run one cell in a worker process (e.g. a Ray worker) from the config's TOML text.

    Uses the worker's own cache (``cache_root`` or the default); returns outputs to the driver,
    which writes them: no shared file system is assumed.  ``shard_runner`` encodes the
    document-index shards (e.g. one Ray task per shard; None: in this process).  ``timeout``:
    seconds the cell may run (:func:`run_cell_timed`).
    """
    from harness.interrupts import working

    with working():  # SIGTERM from the driver unwinds the cell, then the worker exits
        engine = _worker_engine(config_text, config_source, cache_root, device)
        engine.shard_runner = shard_runner  # per cell: the runner holds no state
        cached = engine.load_cached_cell(spec)
        if cached is not None:
            return cached
        out = run_cell_timed(engine, spec, timeout)
        if out.status == "done":
            engine.store_cell(out)
        return out


def build_stage_remote(
    config_text: str, config_source: str, stage: str, seed: int | None, cache_root: str | None, device: str | None
) -> float:
    """Build (or load) a shared stage in a worker process: ``"base"`` or ``"teacher"`` (of ``seed``).

    Returns the seconds it took.  The stage lands in the cache (keyed by its own identity), where
    the cells that need it find it; a worker that needs a stage another is building waits on the
    cache's lock.
    """
    from harness.interrupts import working

    with working():  # SIGTERM from the driver unwinds the build, then the worker exits
        engine = _worker_engine(config_text, config_source, cache_root, device)
        if stage == "teacher" and engine.config.model.base == "mini":
            engine.base_dir()  # waits while another worker builds it: not part of the teacher's time
        t0 = time.perf_counter()
        if stage == "base":
            engine.base_dir()
        elif stage == "teacher" and seed is not None:
            engine.teacher(seed)
        else:
            raise ValueError(f"unknown stage {stage!r}")
        return time.perf_counter() - t0
