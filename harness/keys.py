"""Cache keys of a matrix's stages, built from three shared parts.

* **compute** (:func:`compute_part`): the shared training settings (``encode_batch_size``
  stays in: batch shapes can change float rounding, and so ties), the resolved torch thread
  count and the device; ``"any"`` for a lexical method, whose scores depend on neither;
* **data** (:func:`data_part`): the benchmark's fingerprint, what the adapter serves from it
  (:meth:`~harness.benchmarks.base.Benchmark.evaluation_identity`: e.g. a mode; never paths),
  the languages and tiers;
* **method** (:func:`method_part`): the plugin, its version and its options.

:func:`fit_key` (stage ``fit``), :func:`cell_key` (stage ``cell``) and :func:`run_key`
(stage ``run``) combine them; :class:`harness.engine.Engine` supplies the values (its teacher
keys, fingerprints, thread count).  Every key is hashed with :func:`harness.hashing.hash_json`
(canonical JSON: the order of a dict's entries does not matter).
"""

from __future__ import annotations

from typing import Any

from harness.hashing import hash_json

__all__ = ["cell_key", "compute_part", "data_part", "fit_key", "method_part", "run_key"]


def compute_part(training: Any, threads: int, device: str, dense: bool) -> dict[str, Any]:
    """``{"training", "threads", "device"}``: ``training`` is the config's :class:`~harness.training.TrainingOptions`
    (its ``num_threads`` is replaced by the resolved ``threads``: 0 = all cores means this machine's count)."""
    return {
        "training": training.model_dump(mode="json", exclude={"num_threads"}),
        "threads": threads if dense else "any",
        "device": device if dense else "any",
    }


def method_part(entry: Any) -> dict[str, Any]:
    """``{"plugin", "version", "options"}`` of a config's method entry (:class:`harness.config.MethodEntry`)."""
    return {"plugin": entry.plugin, "version": entry.cls.version, "options": entry.options.model_dump(mode="json")}


def data_part(benchmark: Any) -> dict[str, Any]:
    """``{"data", "served", "languages", "tiers"}`` of a benchmark (the whole data and the view evaluated)."""
    return {
        "data": benchmark.fingerprint(),
        "served": benchmark.evaluation_identity(),
        "languages": list(benchmark.languages),
        "tiers": dict(benchmark.tiers),
    }


def fit_key(entry: Any, seed: int, benchmark: Any, compute: dict[str, Any], teacher: dict[str, Any] | None) -> str:
    """A fit's key: method part, seed, compute part, the teacher's key, and the training inputs only
    (:meth:`~harness.benchmarks.base.Benchmark.training_fingerprints`, pivot, languages, tiers)."""
    return hash_json(
        {
            "stage": "fit",
            **method_part(entry),
            "seed": seed,
            "training_data": benchmark.training_fingerprints(),
            "pivot": benchmark.pivot,
            "languages": list(benchmark.languages),
            "tiers": dict(benchmark.tiers),
            **compute,
            "teacher": teacher,
        }
    )


def cell_key(
    method: str,
    entry: Any,
    seed: int,
    benchmark: Any,
    evaluation: dict[str, Any],
    compute: dict[str, Any],
    teacher: dict[str, Any] | None,
    fit: str | None,
) -> str:
    """A cell's key.  ``evaluation``: ``{"metrics", "top_k"}``.  A fit-cached method's (``fit``: its
    :func:`fit_key`): the fit and the evaluated data; any other's: method, data and compute parts, seed, teacher."""
    if fit is not None:
        d = data_part(benchmark)
        return hash_json({"fit": fit, "method": method, "data": d["data"], "served": d["served"], **evaluation})
    return hash_json(
        {
            "method": method,
            **method_part(entry),
            "seed": seed,
            **data_part(benchmark),
            **evaluation,
            **compute,
            "teacher": teacher,
        }
    )


def run_key(
    method: str,
    entry: Any,
    seed: int,
    *,
    language: str,
    split: str,
    served: dict[str, Any],
    data: Any,
    languages: list[str] | None,
    top_k: int,
    index_dtype: str | None,
    compute: dict[str, Any],
    teacher: dict[str, Any] | None,
    fit: str | None,
) -> dict[str, Any]:
    """One (mode, language, split)'s stored run.  A fit-cached method's: the fit and ``data`` (this language's
    data as the mode serves it); any other's: method and compute parts, the seed (None for a seed-invariant
    method), ``data`` (the whole benchmark's, or this language's for a method whose fit ignores the language
    set) and the teacher.  Neither metrics nor tiers: evaluation re-scores stored runs."""
    where = {"served": served, "language": language, "split": split, "top_k": top_k, "index_dtype": index_dtype}
    if fit is not None:
        return {"fit": fit, "language_data": data, **where}
    return {
        "method": method,
        **method_part(entry),
        "seed": None if entry.cls.seed_invariant else seed,
        "data": data,
        "languages": languages,
        **where,
        **compute,
        "teacher": teacher,
    }
