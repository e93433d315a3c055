"""Fixture builders for the ``ir_datasets`` adapter: CLIRMatrix laid out as ir_datasets keeps it.

ir_datasets finds every CLIRMatrix file through a downloads manifest,
``<IR_DATASETS_HOME>/clirmatrix/clirmatrix_downloads.json.gz`` (a gzipped JSON object; its
``clirmatrix_docs`` context has ``docs/<lang>`` and its ``clirmatrix_bi139_base`` context
``queries/<query lang>_<doc lang>/<split>``, each a download entry whose ``cache_path`` is
relative to ``<home>/clirmatrix``; ir_datasets/datasets/clirmatrix.py).  Documents are a
gzipped TSV (``doc_id<TAB>text``, ``GenericDoc``); queries and qrels share one gzipped JSONL
file per (query language, document language, split): ``{"src_id", "src_query", "tgt_results":
[[doc_id, relevance 0-6], ...]}``.

:func:`write_clirmatrix_home` writes :data:`CLIR` that way (a manifest naming our files, with
their true md5s), so a process whose ``IR_DATASETS_HOME`` points there reads it through the
real ``clirmatrix/<doc lang>/bi139-base/<query lang>/<split>`` ids.
:func:`register_clirmatrix_fixture` registers the same files in-process under
``<prefix>/<doc lang>/bi139-base/<query lang>/<split>`` with ir_datasets' own CLIRMatrix classes.

The data is built so that BM25's answer is known: each query names one entity (``nile``,
``kilimanjaro``, ...) that occurs in exactly one English document, its only relevant one, so
BM25 ranks it first and nDCG@10 is 1 for every query.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from pathlib import Path

_counter = itertools.count()

#: English CLIRMatrix documents (``clirmatrix/en``): doc id -> text.
CLIR_DOCS = {
    "en": {
        "101": "nile the nile is the longest river in africa",
        "102": "kilimanjaro mount kilimanjaro is the highest mountain in africa",
        "103": "serengeti lions live in the savanna of the serengeti",
        "104": "sahara the sahara is a desert north of the sea",
        "105": "congo the congo river flows to the sea",
        "106": "the sea covers most of the earth",
    }
}
#: ``(query lang, doc lang, split) -> [(query id, text, [(doc id, relevance)])]``.
CLIR_TOPICS = {
    ("sw", "en", "test1"): [
        ("s1", "mto nile", [("101", 6), ("105", 0)]),
        ("s2", "mlima kilimanjaro", [("102", 6)]),
        ("s3", "simba serengeti", [("103", 5), ("106", 0)]),
        ("s4", "jangwa sahara", [("104", 6)]),
    ],
    ("sw", "en", "train"): [
        ("s9", "mto congo", [("105", 6)]),
        ("s8", "mlima kilimanjaro mrefu", [("102", 4)]),
    ],
    ("yo", "en", "test1"): [
        ("y1", "odo nile", [("101", 6)]),
        ("y2", "oke kilimanjaro", [("102", 6), ("101", 0)]),
        ("y3", "odo congo", [("105", 6)]),
    ],
}


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def clirmatrix_files() -> dict[str, bytes]:
    """``relative path under <home>/clirmatrix -> gzipped bytes`` of :data:`CLIR_DOCS` and :data:`CLIR_TOPICS`."""
    out: dict[str, bytes] = {}
    for lang, docs in CLIR_DOCS.items():
        out[f"docs/{lang}.tsv.gz"] = _gz("".join(f"{d}\t{t}\n" for d, t in docs.items()).encode())
    for (q, d, split), rows in CLIR_TOPICS.items():
        lines = "".join(
            json.dumps({"src_id": qid, "src_query": text, "tgt_results": [[doc, rel] for doc, rel in rels]}) + "\n"
            for qid, text, rels in rows
        )
        out[f"bi139-base/{q}_{d}/{split}.jsonl.gz"] = _gz(lines.encode())
    return out


def write_clirmatrix_home(home: Path, *, manifest: bool = True) -> Path:
    """Write the CLIRMatrix fixture (and, unless ``manifest=False``, its downloads manifest) under ``home``."""
    base = home / "clirmatrix"
    files = clirmatrix_files()
    entries: dict[str, dict[str, dict[str, str]]] = {"clirmatrix_docs": {}, "clirmatrix_bi139_base": {}}
    for rel, data in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        entry = {
            "url": f"http://clirmatrix.invalid/{rel}",
            "expected_md5": hashlib.md5(data).hexdigest(),
            "cache_path": rel,
        }
        if rel.startswith("docs/"):
            entries["clirmatrix_docs"][f"docs/{Path(rel).name.split('.')[0]}"] = entry
        else:
            _, pair, name = rel.split("/")
            entries["clirmatrix_bi139_base"][f"queries/{pair}/{name.split('.')[0]}"] = entry
    # the real manifest lists every file of every language; these two are listed but not written here
    for key, rel in (("docs/sw", "docs/sw.tsv.gz"), ("queries/en_sw/test1", "bi139-base/en_sw/test1.jsonl.gz")):
        ctx = "clirmatrix_docs" if key.startswith("docs/") else "clirmatrix_bi139_base"
        entries[ctx][key] = {"url": f"http://clirmatrix.invalid/{rel}", "expected_md5": "0" * 32, "cache_path": rel}
    if manifest:
        (base / "clirmatrix_downloads.json.gz").write_bytes(_gz(json.dumps(entries).encode()))
    return home


def register_clirmatrix_fixture(home: Path) -> str:
    """Register ``<prefix>/<doc lang>/bi139-base/<query lang>/<split>`` over ``home``'s files; return the prefix."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.datasets.clirmatrix import QRELS_DEFS
    from ir_datasets.formats import CLIRMatrixQrels, CLIRMatrixQueries, TsvDocs
    from ir_datasets.util import GzipExtract, LocalDownload

    prefix = f"harness-test-clir-{next(_counter)}-{home.name}"
    base = home / "clirmatrix"
    docs = {
        lang: TsvDocs(
            GzipExtract(LocalDownload(base / f"docs/{lang}.tsv.gz", mkdir=False)),
            namespace=f"{prefix}/{lang}",
            lang=lang,
        )
        for lang in CLIR_DOCS
    }
    for q, d, split in CLIR_TOPICS:
        dl = GzipExtract(LocalDownload(base / f"bi139-base/{q}_{d}/{split}.jsonl.gz", mkdir=False))
        ir_datasets.registry.register(
            f"{prefix}/{d}/bi139-base/{q}/{split}",
            Dataset(docs[d], CLIRMatrixQueries(dl, q), CLIRMatrixQrels(dl, QRELS_DEFS)),
        )
    return prefix


#: Mr. TyDi Swahili (``mr-tydi/sw/<split>``): passages, and per split its topics and qrels.
MRTYDI_SW = {
    "docs": [
        ("1#0", "Mto Nile ni mto mrefu zaidi"),
        ("2#0", "Simba ni mnyama wa porini"),
        ("3#0", "Mlima Kilimanjaro"),
    ],
    "test": ([("t1", "mto mrefu"), ("t2", "simba")], [("t1", "1#0", 1), ("t2", "2#0", 1)]),
    "train": ([("r1", "mlima mrefu")], [("r1", "3#0", 1)]),
}


def write_mrtydi_home(home: Path) -> Path:
    """Mr. TyDi Swahili as ir_datasets keeps it once unpacked: ``<home>/mr-tydi/sw.data/mrtydi-v1.0-swahili/``
    with ``collection/docs.jsonl.gz`` (``{"id", "contents"}``), ``topic.<split>.tsv`` and ``qrels.<split>.txt``
    (ir_datasets/datasets/mr_tydi.py: a ``TarExtractAll`` of the release tarball into ``<lang>.data``)."""
    root = home / "mr-tydi" / "sw.data" / "mrtydi-v1.0-swahili"
    (root / "collection").mkdir(parents=True, exist_ok=True)
    docs = "".join(json.dumps({"id": d, "contents": t}) + "\n" for d, t in MRTYDI_SW["docs"])
    (root / "collection" / "docs.jsonl.gz").write_bytes(_gz(docs.encode()))
    for split in ("test", "train", "dev"):
        topics, qrels = MRTYDI_SW.get(split, ([], []))
        (root / f"topic.{split}.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in topics))
        (root / f"qrels.{split}.txt").write_text("".join(f"{q} Q0 {d} {r}\n" for q, d, r in qrels))
    return home
