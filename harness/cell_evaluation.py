"""Evaluation of a fitted retriever: retrieval over every language, split and mode, the output checks, per-query scores.

:func:`evaluate` is what :meth:`harness.engine.Engine.evaluate` runs: it retrieves through
:func:`retrieve_splits` (the cached document index and exact search for an Encoder, the
plugin's own ranking for a Searcher), checks what came back (finite values, unit norms,
known doc ids: :class:`NonFiniteOutputError`, :class:`UnnormalisedEmbeddingError`,
:class:`SearcherOutputError`) and scores each run per query (:func:`harness.evaluation.evaluate_per_query`).
It reads the engine through :class:`EvaluationSite` (structural: nothing here imports the engine).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from harness.cache import Cache
from harness.cell_store import write_run
from harness.cells import RESULT_COLUMNS, CellSpec, run_name

__all__ = [
    "UNIT_NORM_TOL",
    "EvaluationSite",
    "NonFiniteOutputError",
    "SearcherOutputError",
    "UnnormalisedEmbeddingError",
    "evaluate",
    "left_out_queries",
    "retrieve_splits",
    "with_budget",
]


class EvaluationSite(Protocol):
    """What :func:`evaluate` reads of an engine (:class:`harness.engine.Engine` is one)."""

    world: str
    config: Any
    cache: Cache
    device: str
    shard_runner: Any

    @property
    def benchmark(self) -> Any: ...

    @property
    def modes(self) -> tuple[str, ...]: ...

    @property
    def splits(self) -> tuple[str, ...]: ...

    def view(self, mode: str) -> Any: ...

    def run_key(self, method: str, seed: int, language: str, split: str, mode: str | None = None) -> dict[str, Any]: ...

    def log_run(self, event: str, spec: CellSpec, mode: str, language: str, split: str) -> None: ...


def evaluate(
    site: "EvaluationSite",
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
    within this call and removed at its end).  ``stored`` runs (from :meth:`harness.engine.Engine.cached_runs`)
    are evaluated as they are; the final evaluation of a cell (no ``label``) stores every
    run it computes in the ``run`` stage.
    """
    from harness import corpus
    from harness.evaluation import evaluate_per_query
    from harness.index import discard_index
    from harness.retrieval import trec_run_text

    stored = stored or {}
    splits = site.splits
    modes = site.modes
    frames: dict[str, list[pd.DataFrame]] = {sp: [] for sp in splits}
    runs: dict[str, str] = {}
    t_ret = t_eval = 0.0
    k = site.config.raw.top_k
    tag = f"{spec.method}.{spec.seed}"
    private: dict[Any, Any] = {}  # (corpus, document language) -> a checkpoint's index, shared within this call
    left_out: dict[str, dict[str, Any]] = {}  # "<run name>:<split>" -> queries the run ranks nothing for
    try:
        for mode in modes:
            view = site.view(mode)
            for lang in site.benchmark.languages:
                tops = [corpus.topics(view, lang, sp) for sp in splits]
                todo = [i for i, sp in enumerate(splits) if (mode, lang, sp) not in stored]
                split_runs = {i: stored[(mode, lang, sp)] for i, sp in enumerate(splits) if (mode, lang, sp) in stored}
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
                        site.device,
                        root=site.cache.root,
                        index=site.config.raw.index,
                        label=where,
                        cache=not label,  # checkpoints: private indexes, not kept
                        private=private,
                        runner=site.shard_runner,
                        unit_norm=site.config.model.normalize,
                    )
                    t_ret += time.perf_counter() - t0
                    for i, run in zip(todo, got):
                        split_runs[i] = run
                        if not label:
                            text = trec_run_text(run, tag=tag, k=k)
                            if splits[i] == "test":
                                runs[run_name(mode, lang, modes)] = text
                            site.cache.get_or_build(
                                "run",
                                site.run_key(spec.method, spec.seed, lang, splits[i], mode),
                                functools.partial(write_run, text=text),
                            )
                            site.log_run("computed", spec, mode, lang, splits[i])
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
                    df = evaluate_per_query(top.qrels, run, site.config.metrics)
                    t_eval += time.perf_counter() - t0
                    df.insert(0, "tier", top.tier)
                    df.insert(0, "language", lang)
                    df.insert(0, "mode", mode)
                    df.insert(0, "seed", spec.seed)
                    df.insert(0, "method", spec.method)
                    df.insert(0, "world", site.world)
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


def with_budget(results: dict[str, pd.DataFrame], budget: dict[str, Any]) -> pd.DataFrame:
    """Per-split results of one checkpoint as budget-curve rows (``split`` and ``budget_*`` columns)."""
    frames = []
    for split, df in results.items():
        df = df.copy()
        df["split"] = split
        for k in ("steps", "examples", "seconds"):
            df[f"budget_{k}"] = budget.get(k)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


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
