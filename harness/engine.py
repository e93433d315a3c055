"""Stages of a benchmark matrix, each cached by content hash.

::

    base encoder ─► teacher(seed) ─► method(seed).fit ─► retrieve per language ─► evaluate

A *cell* is one (method, seed).  :class:`Engine` computes one cell from a validated config,
reusing cached stages: the base encoder (for ``synthetic``, the MLM-pre-trained ``mini``
model), the seed's teacher (pivot fine-tuning with in-batch negatives) and finished cells.
A cell's key hashes everything that can change its scores (data fingerprint, base model,
teacher options, the method's name, version and options, the seed, metrics, device), so
re-running a finished config recomputes nothing and changing one method's options re-runs
only that method's cells.  A failed cell is returned as such, never cached.
"""

from __future__ import annotations

import errno
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
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

RESULT_COLUMNS = ["method", "seed", "language", "tier", "query_id", "metric", "value"]


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
    """One (method, seed) of the matrix, with the content key of its results."""

    method: str
    seed: int
    key: str

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


class Engine:
    """Computes cells for one config; memoises the benchmark, base encoder and teachers."""

    def __init__(self, config: HarnessConfig, cache: Cache, *, progress: bool = False, device: str | None = None):
        from harness.training import resolve_device

        self.config = config
        self.cache = cache
        self.progress = progress
        self.device = device or resolve_device(config.raw.device)
        self._benchmark = None
        self._teachers: dict[int, Any] = {}
        self._base_dir: Path | None = None
        self._model_identity: dict[str, Any] | None = None
        from harness.training import set_cpu_threads

        #: torch CPU threads every stage of this engine runs with (part of trained stages' identity)
        self.threads = set_cpu_threads(config.training.num_threads)

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

    def base_key(self) -> dict[str, Any]:
        m = self.config.model
        key: dict[str, Any] = {"base": m.base, "pooling": m.pooling, "normalize": m.normalize, "max_length": m.max_length}
        if m.base == "mini":
            key["mini"] = self.config.mini.model_dump(mode="json")
            key["corpus"] = self.benchmark.fingerprint()
            key["device"] = self.device
            key["threads"] = self.threads
        else:
            key["content"] = self.model_identity()
        return key

    def model_identity(self) -> dict[str, Any]:
        """Content identity of a ``from_pretrained`` base model (see :mod:`harness.models.identity`)."""
        if self._model_identity is None:
            from harness.models.identity import model_fingerprint

            self._model_identity = model_fingerprint(self.config.model.base, self.cache.root / "digests.json")
        return self._model_identity

    def preflight(self, sample: int = 200) -> dict[str, Any]:
        """Check, before any work, what would otherwise fail every cell: data, model, tokenizer coverage.

        Returns facts for the manifest (model identity, unknown-token rate per language).
        """
        bench = self.benchmark
        facts: dict[str, Any] = {}
        if self.config.model.base == "mini" or not any(m.cls.needs_teacher or m.cls.kind == "dense"
                                                         for m in self.config.methods):
            return facts
        from transformers import AutoTokenizer

        from harness.models.identity import check_tokenizer

        facts["model"] = self.model_identity()
        try:
            tok = AutoTokenizer.from_pretrained(str(self.config.model.base), local_files_only=True)
        except (OSError, ValueError) as e:
            from harness.errors import DataUnavailableError

            raise DataUnavailableError(f"model.base {self.config.model.base!r}: cannot load its tokenizer "
                                       f"offline ({e}); the directory needs the tokenizer files") from None
        rates = {}
        for lang in bench.languages:
            data = bench.language_data(lang)
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

            self._base_dir = cached_mini(self.benchmark, self.config.mini, self.device, self.cache, self.progress,
                                         threads=self.threads)
        return self._base_dir

    def load_base(self):
        from harness.models.encoder import BiEncoder

        m = self.config.model
        return BiEncoder.from_pretrained(self.base_dir(), pooling=m.pooling, normalize=m.normalize,
                                         max_length=m.max_length, device=self.device,
                                         encode_batch_size=self.config.training.encode_batch_size)

    def teacher_key(self, seed: int) -> dict[str, Any]:
        return {"base": self.base_key(), "teacher": self.config.teacher.model_dump(mode="json"),
                "data": self.benchmark.fingerprint(), "seed": seed, "device": self.device, "threads": self.threads}

    def teacher(self, seed: int):
        """The seed's teacher: the base encoder fine-tuned on pivot retrieval pairs (cached)."""
        from harness.models.encoder import BiEncoder
        from harness.training import train_teacher

        if seed in self._teachers:
            return self._teachers[seed]

        def build(tmp: Path) -> None:
            base = self.load_base()
            teacher = train_teacher(base, self.benchmark.train_pairs(), self.config.teacher, seed=seed,
                                    device=self.device, progress=self.progress)
            teacher.save_pretrained(tmp)

        path = self.cache.get_or_build("teacher", self.teacher_key(seed), build)
        m = self.config.model
        t = BiEncoder.from_pretrained(path, pooling=m.pooling, normalize=m.normalize, max_length=m.max_length,
                                      device=self.device, encode_batch_size=self.config.training.encode_batch_size)
        t.eval()
        for p in t.parameters():
            p.requires_grad_(False)
        self._teachers = {seed: t}  # keep one: teachers are per seed, cells run seed by seed
        return t

    # ----------------------------------------------------------------- cells
    def cell_key(self, method: str, seed: int) -> str:
        entry = self.config.method(method)
        key = {
            "method": method,
            "version": entry.cls.version,
            "options": entry.options.model_dump(mode="json"),
            "seed": seed,
            "data": self.benchmark.fingerprint(),
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
        """Cells in a seed-major order (so one teacher is in memory at a time)."""
        return [CellSpec(m.name, s, self.cell_key(m.name, s)) for s in self.config.seeds for m in self.config.methods]

    def load_cached_cell(self, spec: CellSpec) -> CellOutput | None:
        d = self.cache.lookup("cell", {"key": spec.key})
        if d is None:
            return None
        meta = json.loads((d / "cell.json").read_text())
        runs = {p.stem: p.read_text() for p in sorted((d / "runs").glob("*.trec"))}
        return CellOutput(method=spec.method, seed=spec.seed, key=spec.key, status="done",
                          results=pd.read_parquet(d / "results.parquet"), runs=runs,
                          timings=meta.get("timings", {}), from_cache=True, info=meta.get("info", {}))

    def store_cell(self, out: CellOutput) -> None:
        """Put a finished cell into the cache (driver side; failed cells are never stored)."""
        if out.status != "done":
            return

        def build(tmp: Path) -> None:
            out.results.to_parquet(tmp / "results.parquet", index=False)
            (tmp / "runs").mkdir()
            for lang, text in out.runs.items():
                (tmp / "runs" / f"{lang}.trec").write_text(text)
            (tmp / "cell.json").write_text(json.dumps(
                {"method": out.method, "seed": out.seed, "timings": out.timings, "info": out.info}, indent=1))

        self.cache.get_or_build("cell", {"key": out.key}, build)

    def run_cell(self, spec: CellSpec) -> CellOutput:
        """Compute one cell (no cache lookup); failures are returned, not raised."""
        from harness.plugin import Encoder, FitContext, Searcher
        from harness.evaluation import evaluate_per_query
        from harness.retrieval import trec_run_text

        timings: dict[str, float] = {}
        entry = self.config.method(spec.method)
        try:
            t0 = time.perf_counter()
            teacher = self.teacher(spec.seed) if entry.cls.needs_teacher else None
            timings["teacher"] = time.perf_counter() - t0
            method = entry.cls(entry.options)
            ctx = FitContext(
                benchmark=self.benchmark, teacher=teacher, seed=spec.seed,
                rng=method_data_rng(spec.seed, spec.method), train_seed=method_train_seed(spec.seed, spec.method),
                device=self.device, method=spec.method, cache=Cache(self.cache.root / "methods" / spec.method),
                training=self.config.training, progress=self.progress,
                base_model=self.base_dir() if entry.cls.needs_teacher else None,
            )
            t0 = time.perf_counter()
            # torch's global generator is forked and seeded from the method's own stream, so
            # draws outside ctx.train (e.g. initialising a new layer) are reproducible too.
            with seeded_torch(seeding.torch_seed(spec.seed, "method", spec.method, "fit")):
                retriever = method.fit(ctx)
            timings["fit"] = time.perf_counter() - t0
            if not isinstance(retriever, (Encoder, Searcher)):
                raise TypeError(f"method {spec.method!r}: fit() returned {type(retriever).__name__}, which is neither "
                                "an Encoder (encode_queries/encode_documents) nor a Searcher (search)")
            frames, runs = [], {}
            t_ret = t_eval = 0.0
            for lang in self.benchmark.languages:
                data = self.benchmark.language_data(lang)
                t0 = time.perf_counter()
                run = retrieve(retriever, data, self.config.raw.top_k, self.device, label=f"{spec.label} language={lang}")
                t_ret += time.perf_counter() - t0
                t0 = time.perf_counter()
                df = evaluate_per_query(data.qrels, run, self.config.metrics)
                t_eval += time.perf_counter() - t0
                df.insert(0, "tier", data.tier)
                df.insert(0, "language", lang)
                df.insert(0, "seed", spec.seed)
                df.insert(0, "method", spec.method)
                frames.append(df)
                runs[lang] = trec_run_text(run, tag=f"{spec.method}.{spec.seed}", k=self.config.raw.top_k)
            timings["retrieve"] = t_ret
            timings["evaluate"] = t_eval
            results = pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]
            results["seed"] = results["seed"].astype("int64")
            bad = results["value"].isna()
            if bad.any():
                raise FloatingPointError(f"{int(bad.sum())} NaN metric values for {spec.label}")
            return CellOutput(spec.method, spec.seed, spec.key, "done", results, runs, timings,
                              info=_jsonable(ctx.diagnostics))
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):  # the environment failed, not the cell: stop the run
                raise
            return CellOutput(spec.method, spec.seed, spec.key, "failed", timings=timings,
                              error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
        except Exception as e:  # noqa: BLE001 - a failed cell must not stop the matrix
            return CellOutput(spec.method, spec.seed, spec.key, "failed", timings=timings,
                              error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())


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
            "or check the model directory")


def retrieve(retriever, data, k: int, device: str, label: str = "") -> dict[str, dict[str, float]]:
    """Top-``k`` run for one language: dense exact search, or the searcher's own ranking.

    Non-finite embeddings or scores fail the cell (:class:`NonFiniteOutputError`, naming
    ``label``): a NaN ranking is arbitrary and must never be scored as a result.
    """
    from harness.plugin import Encoder
    from harness.retrieval import dense_search, to_run_dict

    label = label or f"language={data.language}"
    qids = sorted(data.queries)
    if isinstance(retriever, Encoder):
        doc_ids = sorted(data.corpus)
        d = retriever.encode_documents([data.corpus[i] for i in doc_ids], data.language)  # (n_docs, dim)
        _check_finite(d, "document embeddings", label)
        q = retriever.encode_queries([data.queries[i] for i in qids], data.language)  # (n_queries, dim)
        _check_finite(q, "query embeddings", label)
        scores, idx = dense_search(q, d, k, device=device)
        return to_run_dict(qids, doc_ids, scores, idx)
    run = retriever.search({q: data.queries[q] for q in qids}, data, k)
    _check_finite([s for r in run.values() for s in r.values()] or [0.0], "search scores", label)
    return {q: dict(sorted(r.items(), key=lambda kv: (-kv[1], kv[0]))[:k]) for q, r in run.items()}


def execute_cell_remote(config_text: str, config_source: str, spec: CellSpec, cache_root: str | None,
                        device: str | None = None) -> CellOutput:
    """Run one cell in a fresh process (e.g. a Ray worker) from the config's TOML text.

    Uses the worker's own cache (``cache_root`` or the default); returns outputs to the driver,
    which writes them: no shared file system is assumed.
    """
    import tomllib

    from harness.config import config_from_dict

    config = config_from_dict(tomllib.loads(config_text), source=config_source, text=config_text)
    cache = Cache(cache_root) if cache_root else Cache.default()
    engine = Engine(config, cache, progress=False, device=device)
    cached = engine.load_cached_cell(spec)
    if cached is not None:
        return cached
    out = engine.run_cell(spec)
    if out.status == "done":
        engine.store_cell(out)
    return out


ProgressFn = Callable[[CellOutput], None]


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
