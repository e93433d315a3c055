"""Bad data refused before any training: the checks every benchmark adapter gets.

:func:`validate_benchmark` runs in :meth:`harness.engine.Engine.preflight`, before the run
directory exists and before any base encoder, teacher or method is trained.  For every
evaluated language, in every mode, and every query split:

* **the corpus is read to its end** (:func:`harness.corpus.iter_documents`, the stream the
  document index reads): a truncated or corrupt file (``EOFError`` of a cut ``.jsonl.gz``,
  a bad gzip member, undecodable bytes) becomes a :class:`DataFormatError` naming the
  adapter's source (:meth:`~harness.benchmarks.base.Benchmark.data_source`: the file, or
  the dataset id and its files) and how many documents were read before it;
* **doc ids are non-empty and unique**: a 64-bit hash per id (8 bytes per document, so a
  corpus of 33M passages needs ~260 MB once), and when two hashes agree a second pass names
  the duplicated id and the positions of both copies (a bare hash collision is not reported).
  Dense retrieval would otherwise keep one of the texts silently, and BM25 fail with its own
  message;
* **every judged query has a non-empty text** (:func:`harness.benchmarks.base.check_query_texts`, also applied by
  :class:`~harness.benchmarks.base.LanguageData` and :class:`~harness.corpus.Topics` when
  they are built): an empty query is scored 0 by dense methods and breaks BM25.

A corpus is read once per content: the result is remembered under
``<cache>/validated/<hash of the corpus fingerprint>.json``, so a run over an unchanged
corpus does not stream it again (an edited file has a new fingerprint, see
:func:`harness.corpus.file_digest`).
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.benchmarks.base import check_query_texts
from harness.errors import DataFormatError, HarnessError

__all__ = ["validate_benchmark", "validate_corpus"]

#: Bumped when the checks change (part of the memo's key).
VERSION = 1


def _format_error(source: str, problem: str, hint: str = "") -> Exception:
    return DataFormatError(source, problem, hint=hint)


def _key(doc_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def validate_corpus(bench: Any, language: str) -> dict[str, int]:
    """Read ``language``'s corpus once: readable to its end, doc ids non-empty and unique.

    Returns ``{"documents": n}``; raises :class:`DataFormatError` naming the source.
    """
    import numpy as np

    from harness.corpus import iter_documents

    source = bench.data_source(language, "docs")
    hashes = array("Q")
    n = 0
    try:
        for did, text in iter_documents(bench, language):
            if not isinstance(did, str) or not did.strip():
                raise _format_error(source, f"document {n + 1} has an empty doc id", "every document needs an id")
            if not isinstance(text, str):
                raise _format_error(source, f"document {did!r} has no text (got {type(text).__name__})")
            hashes.append(_key(did))
            n += 1
    except HarnessError:
        raise
    except Exception as e:  # noqa: BLE001 - any reading failure is a data problem: name the data
        raise _format_error(
            source,
            f"the corpus of {language!r} cannot be read to its end: reading stopped after {n} documents "
            f"({type(e).__name__}: {e})",
            "the file is truncated or corrupt: download or write it again (ir_datasets re-downloads a deleted file "
            "and checks its md5)",
        ) from e
    h = np.frombuffer(hashes, dtype=np.uint64).copy()
    h.sort()
    suspects = set(h[1:][h[1:] == h[:-1]].tolist())
    if suspects:
        seen: dict[str, int] = {}
        for i, (did, _) in enumerate(iter_documents(bench, language), start=1):
            if _key(did) in suspects:
                if did in seen:
                    raise _format_error(
                        source,
                        f"duplicate doc id {did!r} (documents {seen[did]} and {i} of the corpus of {language!r})",
                        "doc ids must be unique: remove or rename one of them",
                    )
                seen[did] = i
    return {"documents": n}


def validate_benchmark(
    bench: Any, languages: Sequence[str], splits: Sequence[str], views: Sequence[Any], memo_dir: Path | None = None
) -> dict[str, Any]:
    """Every check of the module docstring over ``languages`` in every view (mode) and split.

    Returns facts for the manifest: ``{language: {"documents": n}}`` (the first view's).
    """
    from harness import corpus

    facts: dict[str, Any] = {}
    seen: set[str] = set()
    for view in views:
        for lang in languages:
            for split in splits:
                top = corpus.topics(view, lang, split)
                check_query_texts(top.queries, source=f"{view.data_source(lang, 'queries')} ({split} split)")
            try:
                fp = corpus.corpus_fingerprint(view, lang)  # a fingerprint streamed over the corpus reads it too
            except HarnessError:
                raise
            except Exception:  # noqa: BLE001 - read it again through the checks, which name the data
                validate_corpus(view, lang)
                raise
            if fp in seen:
                continue
            seen.add(fp)
            memo = None
            if memo_dir is not None:
                key = hashlib.sha256(json.dumps({"corpus": fp, "version": VERSION}).encode()).hexdigest()[:32]
                memo = memo_dir / f"{key}.json"
            if memo is not None and memo.is_file():
                try:
                    got = json.loads(memo.read_text())
                except (OSError, ValueError):
                    got = None
                if got is not None:
                    facts.setdefault(lang, got)
                    continue
            got = validate_corpus(view, lang)
            facts.setdefault(lang, got)
            if memo is not None:
                from harness.cache import atomic_write_text

                try:
                    atomic_write_text(memo, json.dumps(got))
                except OSError:
                    pass  # the memo saves time only
    return facts


def qrels_problems(data: Any) -> dict[str, Any]:
    """Judgements naming documents missing from the corpus, counted (kept: trec_eval scores them as misses)."""
    corpus = data.corpus
    unknown = [(q, d) for q, rels in data.qrels.items() for d in rels if d not in corpus]
    if not unknown:
        return {}
    judged_only_missing = [
        q
        for q, rels in data.qrels.items()
        if any(r > 0 for r in rels.values()) and all(d not in corpus for d, r in rels.items() if r > 0)
    ]
    return {
        "unknown_documents": len(unknown),
        "examples": [f"{q}:{d}" for q, d in unknown[:5]],
        "queries_judged_only_on_missing": len(judged_only_missing),
        "query_examples": judged_only_missing[:5],
    }
