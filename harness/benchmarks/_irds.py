"""ir_datasets plumbing shared by the ``miracl`` and ``local`` adapters.

* :func:`source_files` lists the files an ir_datasets dataset reads (where ir_datasets
  keeps them, whether they are present, the URL it would download them from and the md5
  it pins), so an adapter can refuse *before* ir_datasets tries the network.
* :func:`iter_records` iterates docs/queries/qrels, turning ir_datasets' bare
  ``RuntimeError('expected 2 fields, got 3')`` and friends into errors that name the
  file and line, and download failures into :class:`DataUnavailableError`.
* :func:`collect_language` reads a dataset into a checked :class:`LanguageData`.

Introspecting the download objects reads private attributes of ``ir_datasets.util``
(``Download._cache_path``, ``Download.mirrors``, ``LocalDownload._path``); if a future
ir_datasets renames them, :func:`source_files` finds nothing and the adapters fall back
to catching the failed download (which then may take ir_datasets' network time-out).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.benchmarks._common import DataFormatError
from harness.benchmarks.base import LanguageData
from harness.errors import DataUnavailableError

ENTITIES = ("docs", "queries", "qrels")


@dataclass(frozen=True)
class SourceFile:
    """One file an ir_datasets dataset reads.

    Attributes
    ----------
    entity : str
        ``"docs"``, ``"queries"`` or ``"qrels"``.
    path : str
        Where ir_datasets reads (or would store) the file.
    present : bool
        Whether it can be read without the network (the file, or ir_datasets' local
        mirror of it under ``<IR_DATASETS_HOME>/downloads/<md5>``, exists).
    url : str or None
        Where ir_datasets would download it from.
    md5 : str or None
        The checksum ir_datasets pins for it.
    """

    entity: str
    path: str
    present: bool
    url: str | None = None
    md5: str | None = None

    def content_id(self) -> str:
        """``sha256:<of the bytes>`` of the file on disk, else ``md5:<pinned>``, else ``missing``.

        The bytes are what the run reads, so an edited file (e.g. qrels under
        ``IR_DATASETS_HOME``) gets a new identity even where ir_datasets pins an md5 for the
        original.  The digest is computed once per file state (path, size, mtime, ctime, inode) and remembered
        (:func:`harness.corpus.file_digest`): a large corpus is hashed once, not per run.
        """
        if self.present and os.path.isfile(self.path):
            from harness.corpus import file_digest

            return f"sha256:{file_digest(self.path)}"
        if self.md5:
            return f"md5:{self.md5}"
        return "missing"


def load_dataset(dataset_id: str, loader: Callable[[str], Any]) -> Any:
    """``loader(dataset_id)`` (normally ``ir_datasets.load``), unknown ids as DataUnavailableError."""
    try:
        return loader(dataset_id)
    except KeyError as e:
        import ir_datasets

        raise DataUnavailableError(
            f"ir_datasets {ir_datasets.__version__} has no dataset {dataset_id!r}; check the id "
            "(`ir_datasets list` shows them) or upgrade ir_datasets"
        ) from e


def _handler(ds: Any, entity: str) -> Any | None:
    has = getattr(ds, f"has_{entity}", None)
    if has is None or not has():
        return None
    return getattr(ds, f"{entity}_handler")()


def docstore_built(ds: Any) -> bool:
    """Whether the dataset's docs are already in ir_datasets' docstore (then the raw
    corpus files are not needed)."""
    h = _handler(ds, "docs")
    try:
        return bool(h is not None and hasattr(h, "docs_store") and h.docs_store().built())
    except Exception:  # noqa: BLE001 - a docstore we cannot inspect counts as not built
        return False


def source_files(ds: Any, entities: tuple[str, ...] = ENTITIES) -> list[SourceFile]:
    """Files the dataset's ``entities`` handlers read (docs skipped if the docstore is built)."""
    from ir_datasets.util import Download, LocalDownload

    out: list[SourceFile] = []
    for entity in entities:
        h = _handler(ds, entity)
        if h is None or (entity == "docs" and docstore_built(ds)):
            continue
        for dl in _downloads(h, Download, LocalDownload):
            if _is_extracted(dl):  # an archive ir_datasets already unpacked (Mr. TyDi): its tree is the source
                md5 = getattr(getattr(dl, "_streamer", None), "expected_md5", None)
                out.append(SourceFile(entity, str(dl._extract_path), True, None, md5))
                continue
            if isinstance(dl, LocalDownload):
                p = Path(getattr(dl, "_path", ""))
                out.append(SourceFile(entity, str(p), p.is_file()))
                continue
            cache = getattr(dl, "_cache_path", None)
            mirrors = list(getattr(dl, "mirrors", []))
            local = [Path(m._path) for m in mirrors if isinstance(m, LocalDownload) and hasattr(m, "_path")]
            urls = [m.url for m in mirrors if hasattr(m, "url")]
            present = (cache is not None and os.path.isfile(cache)) or any(p.is_file() for p in local)
            path = str(cache) if cache is not None else (str(local[0]) if local else "(no local copy; streamed)")
            out.append(SourceFile(entity, path, present, urls[0] if urls else None, getattr(dl, "expected_md5", None)))
    return out


def _is_extracted(obj: Any) -> bool:
    """Whether ``obj`` is an ir_datasets ``TarExtractAll`` whose extraction directory exists (then the
    archive it would extract from is not needed; ir_datasets reads the extracted files)."""
    from ir_datasets.util import TarExtractAll

    return isinstance(obj, TarExtractAll) and os.path.isdir(getattr(obj, "_extract_path", ""))


def _downloads(obj: Any, download_t: type, local_t: type) -> Iterator[Any]:
    """Download / LocalDownload objects reachable from an ir_datasets handler."""
    seen: set[int] = set()
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, (download_t, local_t)) or _is_extracted(o):
            yield o
        elif isinstance(o, (list, tuple)):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))
        elif type(o).__module__.startswith("ir_datasets") and not isinstance(o, type) and hasattr(o, "__dict__"):
            stack.extend(reversed(list(vars(o).values())))


def missing_message(what: str, dataset_id: str, missing: list[SourceFile], how: str) -> str:
    """A DataUnavailableError message listing up to 6 missing files."""
    lines = [f"{what} (ir_datasets id {dataset_id!r}) is not available offline; missing files:"]
    for s in missing[:6]:
        src = f" (downloaded from {s.url})" if s.url else ""
        lines.append(f"  - {s.entity}: {s.path}{src}")
    if len(missing) > 6:
        lines.append(f"  - ... and {len(missing) - 6} more")
    lines.append(how)
    return "\n".join(lines)


# --------------------------------------------------------------------------- reading
def _physical_line(path: Path, index: int, blank: Callable[[str], bool]) -> int | None:
    """1-based line number of the ``index``-th (0-based) non-blank line of ``path``."""
    try:
        with path.open("r", encoding="utf-8", errors="replace", newline="") as f:
            k = -1
            for lineno, line in enumerate(f, start=1):
                if not blank(line):
                    k += 1
                    if k == index:
                        return lineno
    except OSError:
        return None
    return None


def tsv_blank(line: str) -> bool:
    """Lines ir_datasets' TSV reader skips (it reads with universal newlines)."""
    return line in ("\n", "\r\n", "\r")


def trec_blank(line: str) -> bool:
    """Lines ir_datasets' TREC qrels reader skips."""
    return line == "\n"


def iter_records(
    make_iter: Callable[[], Iterator[Any]],
    *,
    source: str,
    path: Path | None = None,
    blank: Callable[[str], bool] = tsv_blank,
    unavailable_hint: str = "",
    files: Callable[[], Sequence[str]] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, record)``; reading errors become actionable errors.

    ``source`` names the data in messages (a file or ``dataset id, entity``); with ``path``
    (a single plain-text file) a malformed record is reported with its line number.
    ``files``: the source files behind ``source``; when a compressed one is truncated or
    damaged, the message names it (:func:`damaged_file`).
    """
    i = 0
    try:
        it = iter(make_iter())
    except Exception as e:  # noqa: BLE001 - converted below
        raise _convert(e, i, source, path, blank, unavailable_hint) from e
    while True:
        try:
            rec = next(it)
        except StopIteration:
            return
        except Exception as e:  # noqa: BLE001 - converted below
            if files is not None and path is None and _damaged_data(e):
                bad = damaged_file(files())
                source = f"{source} ({bad})" if bad else source
            raise _convert(e, i, source, path, blank, unavailable_hint) from e
        yield i, rec
        i += 1


def dataset_source(ds: Any, dataset_id: str, entity: str) -> str:
    """``"<dataset id> <entity> (<its files>)"``: where an entity's records are read from, for messages."""
    try:
        files = [s.path for s in source_files(ds, (entity,))]
    except Exception:  # noqa: BLE001 - a handler we cannot inspect: the id alone
        files = []
    return f"{dataset_id} {entity}" + (f" ({', '.join(files)})" if files else "")


def _damaged_data(e: Exception) -> bool:
    """Whether ``e`` is what reading a truncated or damaged compressed file raises."""
    import gzip
    import zlib

    return isinstance(e, (EOFError, zlib.error, gzip.BadGzipFile))


def damaged_file(paths: Sequence[str]) -> str | None:
    """The first of ``paths`` (gzip files; others are skipped) that cannot be decompressed to its end."""
    import gzip
    import zlib

    for p in paths:
        if not str(p).endswith(".gz") or not os.path.isfile(p):
            continue
        try:
            with gzip.open(p, "rb") as f:
                while f.read(1 << 22):
                    pass
        except (EOFError, zlib.error, OSError):
            return str(p)
    return None


def _convert(e: Exception, index: int, source: str, path: Path | None, blank, hint: str) -> Exception:
    if _damaged_data(e):  # a truncated or damaged (compressed) file
        return DataFormatError(
            str(path) if path is not None else source,
            f"the data ends early or is corrupt after {index} records ({type(e).__name__}: {e})",
            hint="the file is truncated or damaged: download or write it again",
        )
    if isinstance(e, OSError) or (isinstance(e, RuntimeError) and e.args[:1] == ("All download sources failed",)):
        return DataUnavailableError(f"{source}: cannot read the data ({type(e).__name__}: {e}). {hint}".rstrip())
    if isinstance(e, (RuntimeError, ValueError, KeyError, TypeError, IndexError)):
        line = _physical_line(path, index, blank) if path is not None else None
        where = str(path) if path is not None else source
        what = f"record {index + 1}: " if line is None else ""
        return DataFormatError(where, f"{what}malformed ({type(e).__name__}: {e})", line)
    return e


def doc_text(doc: Any) -> str:
    """``title + " " + text`` when the record has a non-empty title, else its text."""
    title = getattr(doc, "title", "") or ""
    text = getattr(doc, "text", None)
    if text is None:
        return doc.default_text()
    return f"{title} {text}" if title.strip() else text


@dataclass(frozen=True)
class Collected:
    """A language read from a dataset, and what was left out while reading it."""

    data: LanguageData
    n_queries_read: int
    n_dropped_unjudged: int
    n_qrels: int
    n_unknown_doc_judgments: int

    def stats(self) -> dict[str, int]:
        return {
            "docs": len(self.data.corpus),
            "queries": len(self.data.queries),
            "queries_read": self.n_queries_read,
            "dropped_unjudged_queries": self.n_dropped_unjudged,
            "judgments": self.n_qrels,
            "judgments_of_docs_not_in_corpus": self.n_unknown_doc_judgments,
        }


def collect_language(
    language: str,
    tier: str,
    docs: Iterator[tuple[int, Any]],
    queries: Iterator[tuple[int, Any]],
    qrels: Iterator[tuple[int, Any]],
    *,
    sources: Mapping[str, str],
    unknown_docs: str = "error",
    line_of: Callable[[str, int], int | None] = lambda entity, index: None,
) -> Collected:
    """Build a checked :class:`LanguageData` from numbered record iterators.

    * duplicate doc or query ids are errors; repeated judgments must agree;
    * an empty qrels is an error ("missing qrels");
    * judgments of queries not in the query file are errors (naming some);
    * judgments of documents not in the corpus are errors when ``unknown_docs="error"``
      and kept as given (counted) when ``"keep"`` (MIRACL: so nDCG's ideal ranking
      matches trec_eval over the official qrels);
    * queries without judgments are dropped (counted).

    ``sources`` maps each entity to the file or dataset id named in messages; ``line_of``
    maps (entity, record index) to a line number when known.
    """
    corpus: dict[str, str] = {}
    for i, d in docs:
        did = d.doc_id.removeprefix("\ufeff") if i == 0 else d.doc_id
        if did in corpus:
            raise DataFormatError(sources["docs"], f"duplicate doc id {did!r}", line_of("docs", i))
        corpus[did] = doc_text(d)
    return collect_topics(
        language, tier, corpus, queries, qrels, sources=sources, unknown_docs=unknown_docs, line_of=line_of
    )


def collect_topics(
    language: str,
    tier: str,
    corpus: Mapping[str, str],
    queries: Iterator[tuple[int, Any]],
    qrels: Iterator[tuple[int, Any]],
    *,
    sources: Mapping[str, str],
    unknown_docs: str = "error",
    line_of: Callable[[str, int], int | None] = lambda entity, index: None,
) -> Collected:
    """:func:`collect_language` over a corpus already read (e.g. a second set of topics of it)."""
    texts: dict[str, str] = {}
    index: dict[str, int] = {}
    for i, q in queries:
        qid = q.query_id.removeprefix("\ufeff") if i == 0 else q.query_id
        if qid in texts:
            raise DataFormatError(sources["queries"], f"duplicate query id {qid!r}", line_of("queries", i))
        texts[qid] = q.text
        index[qid] = i
    judged: dict[str, dict[str, int]] = {}
    n = 0
    for i, r in qrels:
        qid = r.query_id.removeprefix("\ufeff") if i == 0 else r.query_id
        prev = judged.setdefault(qid, {}).get(r.doc_id)
        if prev is not None and prev != int(r.relevance):
            raise DataFormatError(
                sources["qrels"],
                f"query {qid!r}, doc {r.doc_id!r} is judged twice with different relevance ({prev} and {r.relevance})",
                line_of("qrels", i),
            )
        judged[qid][r.doc_id] = int(r.relevance)
        n += 1
    if not judged:
        raise DataFormatError(
            sources["qrels"],
            f"missing qrels for language {language!r}: no judgments",
            hint="every evaluated language needs qrels",
        )
    no_text = sorted(q for q in judged if q not in texts)
    if no_text:
        raise DataFormatError(
            sources["qrels"],
            f"{len(no_text)} judged query ids are not in the queries ({sources['queries']}), e.g. {no_text[:5]}",
            hint="the qrels and the queries must use the same query ids",
        )
    unknown = sorted({d for qd in judged.values() for d in qd if d not in corpus})
    n_unknown = sum(1 for qd in judged.values() for d in qd if d not in corpus)
    if unknown and unknown_docs == "error":
        raise DataFormatError(
            sources["qrels"],
            f"{n_unknown} judgments name doc ids that are not in the corpus ({sources['docs']}), e.g. {unknown[:5]}",
            hint="the qrels and the corpus must use the same doc ids",
        )
    kept = {q: t for q, t in texts.items() if q in judged}
    empty = [q for q, t in kept.items() if not (t or "").strip()]
    if empty:  # scored 0 by dense methods, an error inside BM25: refused here with its line (or record)
        line = line_of("queries", index[empty[0]])
        raise DataFormatError(
            sources["queries"],
            f"judged query {empty[0]!r}{'' if line else f' (record {index[empty[0]] + 1})'} has an empty text"
            + (f" ({len(empty)} such queries, e.g. {empty[:5]})" if len(empty) > 1 else ""),
            line,
            "give each query its text, or remove the query and its judgments",
        )
    data = LanguageData(language=language, tier=tier, corpus=corpus, queries=kept, qrels=judged)
    return Collected(data, len(texts), len(texts) - len(kept), n, n_unknown)
