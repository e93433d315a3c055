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

import hashlib
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

from harness.benchmarks.base import hash_json
from harness.cache import Cache
from harness.config import HarnessConfig, make_benchmark

RESULT_COLUMNS = ["method", "seed", "language", "tier", "query_id", "metric", "value"]


def stable_int(*parts: object) -> int:
    """A 32-bit integer derived from ``parts`` (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "little")


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
        threads = config.training.num_threads
        if threads:
            import torch

            torch.set_num_threads(threads)

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
        return key

    def base_dir(self) -> Path | str:
        """Directory (or hub name) of the base encoder."""
        if self.config.model.base != "mini":
            return self.config.model.base
        if self._base_dir is None:
            self._base_dir = self.benchmark.base_model_dir(self.config.mini, self.device, progress=self.progress)
        return self._base_dir

    def load_base(self):
        from harness.models.encoder import BiEncoder

        m = self.config.model
        return BiEncoder.from_pretrained(self.base_dir(), pooling=m.pooling, normalize=m.normalize,
                                         max_length=m.max_length, device=self.device)

    def teacher_key(self, seed: int) -> dict[str, Any]:
        return {"base": self.base_key(), "teacher": self.config.teacher.model_dump(mode="json"),
                "data": self.benchmark.fingerprint(), "seed": seed, "device": self.device}

    def teacher(self, seed: int):
        """The seed's teacher: the base encoder fine-tuned on pivot retrieval pairs (cached)."""
        from harness.models.encoder import BiEncoder
        from harness.training import train_teacher

        if seed in self._teachers:
            return self._teachers[seed]

        def build(tmp: Path) -> None:
            base = self.load_base()
            with seeded_torch(stable_int("teacher", seed)):
                teacher = train_teacher(base, self.benchmark.train_pairs(), self.config.teacher, seed=seed,
                                        device=self.device, progress=self.progress)
            teacher.save_pretrained(tmp)

        path = self.cache.get_or_build("teacher", self.teacher_key(seed), build)
        m = self.config.model
        t = BiEncoder.from_pretrained(path, pooling=m.pooling, normalize=m.normalize, max_length=m.max_length,
                                      device=self.device)
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
            "training": self.config.training.model_dump(mode="json", exclude={"num_threads"}),
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

    def run_key(self, method: str, seed: int, language: str) -> dict[str, Any]:
        """What determines one language's stored run (top-``k`` with scores) and nothing more.

        Unlike :meth:`cell_key` it holds neither the metrics nor the tiers (evaluation
        re-scores stored runs), and a method declared ``seed_invariant`` (BM25) has no
        seed in it: its run is computed once per language and reused by every seed.
        """
        entry = self.config.method(method)
        invariant = bool(getattr(entry.cls, "seed_invariant", False))
        return {
            "method": method,
            "version": entry.cls.version,
            "options": entry.options.model_dump(mode="json"),
            "seed": None if invariant else seed,
            "data": self.benchmark.fingerprint(),
            "languages": list(self.benchmark.languages),
            "language": language,
            "top_k": self.config.raw.top_k,
            "training": self.config.training.model_dump(mode="json", exclude={"num_threads"}),
            "teacher": self.teacher_key(seed) if entry.cls.needs_teacher else None,
            "device": self.device if entry.cls.kind == "dense" else "any",
            "index_dtype": self.config.raw.index.dtype if entry.cls.kind == "dense" else None,
        }

    def _cached_run(self, key: dict[str, Any]) -> dict[str, dict[str, float]] | None:
        from harness.retrieval import read_trec_run

        d = self.cache.lookup("run", key)
        return None if d is None else read_trec_run(d / "run.trec")

    def run_cell(self, spec: CellSpec) -> CellOutput:
        """Compute one cell (no cache lookup); failures are returned, not raised.

        Per language the run comes from the ``run`` stage when stored there; the method is
        fitted (and its teacher trained) only when some language's run is missing.
        """
        from harness import corpus
        from harness.evaluation import evaluate_per_query
        from harness.index import cache_log
        from harness.plugin import Encoder, FitContext, Searcher
        from harness.retrieval import trec_run_text

        timings: dict[str, float] = {}
        entry = self.config.method(spec.method)
        try:
            tag = f"{spec.method}.{spec.seed}"
            k = self.config.raw.top_k
            keys = {lang: self.run_key(spec.method, spec.seed, lang) for lang in self.benchmark.languages}
            lang_runs: dict[str, dict[str, dict[str, float]]] = {}
            for lang, key in keys.items():
                got = self._cached_run(key)
                if got is not None:
                    lang_runs[lang] = got
                    cache_log(self.cache.root, "hit", "run", method=spec.method, seed=spec.seed, language=lang)
            missing = [lang for lang in self.benchmark.languages if lang not in lang_runs]
            retriever = method = None
            if missing:
                t0 = time.perf_counter()
                teacher = self.teacher(spec.seed) if entry.cls.needs_teacher else None
                timings["teacher"] = time.perf_counter() - t0
                method = entry.cls(entry.options)
                cache_dir = self.cache.root / "methods" / spec.method
                cache_dir.mkdir(parents=True, exist_ok=True)
                ctx = FitContext(
                    benchmark=self.benchmark, teacher=teacher, seed=spec.seed,
                    rng=np.random.default_rng(np.random.SeedSequence([spec.seed, stable_int("method", spec.method)])),
                    device=self.device, method=spec.method, cache_dir=cache_dir, progress=self.progress,
                    training=self.config.training.model_dump(), base_model=self.base_dir() if entry.cls.needs_teacher else None,
                )
                t0 = time.perf_counter()
                with seeded_torch(stable_int("fit", spec.method, spec.seed)):
                    retriever = method.fit(ctx)
                timings["fit"] = time.perf_counter() - t0
                if not isinstance(retriever, (Encoder, Searcher)):
                    raise TypeError(f"method {spec.method!r}: fit() returned {type(retriever).__name__}, which is neither "
                                    "an Encoder (encode_queries/encode_documents) nor a Searcher (search)")
            frames, runs = [], {}
            t_ret = t_eval = 0.0
            for lang in self.benchmark.languages:
                top = corpus.topics(self.benchmark, lang)
                if lang not in lang_runs:
                    t0 = time.perf_counter()
                    run = retrieve(retriever, self.benchmark, lang, top.queries, k, self.device,
                                   root=self.cache.root, index=self.config.raw.index)
                    t_ret += time.perf_counter() - t0
                    text = trec_run_text(run, tag=tag, k=k)
                    self.cache.get_or_build("run", keys[lang], lambda tmp, text=text: (tmp / "run.trec").write_text(text))
                    cache_log(self.cache.root, "computed", "run", method=spec.method, seed=spec.seed, language=lang)
                    lang_runs[lang] = run
                run = lang_runs[lang]
                t0 = time.perf_counter()
                df = evaluate_per_query(top.qrels, run, self.config.metrics)
                t_eval += time.perf_counter() - t0
                df.insert(0, "tier", top.tier)
                df.insert(0, "language", lang)
                df.insert(0, "seed", spec.seed)
                df.insert(0, "method", spec.method)
                frames.append(df)
                runs[lang] = trec_run_text(run, tag=tag, k=k)
            timings["retrieve"] = t_ret
            timings["evaluate"] = t_eval
            results = pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]
            results["seed"] = results["seed"].astype("int64")
            bad = results["value"].isna()
            if bad.any():
                raise FloatingPointError(f"{int(bad.sum())} NaN metric values for {spec.label}")
            info = dict(getattr(retriever, "info", None) or getattr(method, "info", None) or {})
            if getattr(entry.cls, "seed_invariant", False):
                info["seed_invariant"] = True
            info["runs_from_cache"] = sorted(set(self.benchmark.languages) - set(missing))
            return CellOutput(spec.method, spec.seed, spec.key, "done", results, runs, timings, info=_jsonable(info))
        except Exception as e:  # noqa: BLE001 - a failed cell must not stop the matrix
            return CellOutput(spec.method, spec.seed, spec.key, "failed", timings=timings,
                              error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())


def _jsonable(obj: Any) -> Any:
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return json.loads(json.dumps(obj, default=str))


def retrieve(retriever, bench, language: str, queries: dict[str, str], k: int, device: str, *,
             root: Path, index=None) -> dict[str, dict[str, float]]:
    """Top-``k`` run for one language, ranked by the harness's tie rule (:mod:`harness.search`).

    A dense retriever goes through the cached document index and sharded exact search
    (:func:`harness.index.dense_run`); a searcher ranks the whole corpus itself.
    """
    from harness.index import dense_run
    from harness.plugin import Encoder
    from harness.search import rank_run

    if isinstance(retriever, Encoder):
        kw = {} if index is None else {"dtype": index.dtype, "shard_size": index.shard_size}
        return dense_run(retriever, bench, language, queries, k, root=root, device=device, **kw)
    data = bench.language_data(language)
    qids = sorted(queries)
    return rank_run(retriever.search({q: queries[q] for q in qids}, data, k), k)


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
