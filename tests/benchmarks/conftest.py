"""Fixture builders for the benchmark adapters: tiny MIRACL-shaped and local datasets.

* :func:`build_miracl_home` lays the files of ``tests/fixtures/miracl`` out exactly as
  ir_datasets keeps MIRACL under ``IR_DATASETS_HOME`` (paths taken from ir_datasets' own
  download table: ``miracl/v1.0/<lang>/docs/docs-<i>.jsonl.gz``,
  ``miracl/v1.0/<lang>/<split>/topics.tsv`` and ``qrels.tsv``), so a
  process started with ``IR_DATASETS_HOME`` pointing there reads them through the real
  ``miracl/<lang>/<split>`` datasets.
* :func:`register_miracl_fixture` registers the same files with ir_datasets' registry
  under ``<prefix>/<lang>/<split>``, built from the same classes ir_datasets uses for
  MIRACL (JsonlDocs over gzip, TsvQueries, TrecQrels), for in-process tests.
"""

from __future__ import annotations

import gzip
import itertools
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MIRACL_FIXTURE = FIXTURES / "miracl"
LOCAL_FIXTURE = FIXTURES / "local"

#: ``language -> splits`` present in the MIRACL fixture.
MIRACL_FIXTURE_SPLITS = {"en": ("dev", "train"), "sw": ("dev",), "yo": ("dev",)}

_counter = itertools.count()


def miracl_layout(lang: str, splits: tuple[str, ...]) -> dict[str, list[str]]:
    """Paths (relative to ``<home>/miracl``) where ir_datasets keeps ``lang``'s MIRACL
    files, read from ir_datasets' own download table: ``{"docs": [...], "<split>/topics":
    [...], "<split>/qrels": [...]}`` (``en``'s corpus is 66 files; ``yo``'s single file is
    ``docs-1.jsonl.gz``)."""
    from ir_datasets.util import DownloadConfig

    table = DownloadConfig.contents()["miracl"]
    out = {
        "docs": [table[k]["cache_path"] for k in sorted(table, key=_natural) if k.startswith(f"v1.0/{lang}/corpus/")]
    }
    for split in splits:
        for part in ("topics", "qrels"):
            out[f"{split}/{part}"] = [table[f"v1.0/{lang}/{split}/{part}"]["cache_path"]]
    return out


def _natural(key: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in key.split("/"))


def build_miracl_home(home: Path) -> Path:
    """Write the MIRACL fixture under ``home`` in ir_datasets' layout; return ``home``.

    A language's passages are dealt round-robin over all the corpus files ir_datasets
    expects for it (most stay empty), so multi-file corpora are read as in real MIRACL.
    """
    for lang, splits in MIRACL_FIXTURE_SPLITS.items():
        layout = miracl_layout(lang, splits)
        lines = (MIRACL_FIXTURE / lang / "corpus.jsonl").read_bytes().splitlines(keepends=True)
        for i, rel in enumerate(layout["docs"]):
            dst = home / "miracl" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(dst, "wb") as f:
                f.write(b"".join(lines[i :: len(layout["docs"])]))
        for split in splits:
            for part in ("topics", "qrels"):
                dst = home / "miracl" / layout[f"{split}/{part}"][0]
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(MIRACL_FIXTURE / lang / split / f"{part}.tsv", dst)
    return home


def register_miracl_fixture(home: Path) -> str:
    """Register ``<prefix>/<lang>/<split>`` datasets over ``home``; return the prefix."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.datasets.miracl import QRELS_DEFS, MiraclDoc
    from ir_datasets.formats import JsonlDocs, TrecQrels, TsvQueries
    from ir_datasets.util import GzipExtract, LocalDownload

    prefix = f"harness-test-miracl-{next(_counter)}-{home.name}"
    for lang, splits in MIRACL_FIXTURE_SPLITS.items():
        base, layout = home / "miracl", miracl_layout(lang, splits)
        docs = JsonlDocs(
            [GzipExtract(LocalDownload(base / rel, mkdir=False)) for rel in layout["docs"]],
            doc_cls=MiraclDoc,
            mapping={"doc_id": "docid", "title": "title", "text": "text"},
            namespace=f"{prefix}/{lang}",
            lang=lang,
            docstore_path=base / "v1.0" / lang / "docs.pklz4",
        )
        for split in splits:
            ir_datasets.registry.register(
                f"{prefix}/{lang}/{split}",
                Dataset(
                    docs,
                    TsvQueries(
                        LocalDownload(base / layout[f"{split}/topics"][0], mkdir=False),
                        namespace=f"{prefix}/{lang}",
                        lang=lang,
                    ),
                    TrecQrels(LocalDownload(base / layout[f"{split}/qrels"][0], mkdir=False), QRELS_DEFS),
                ),
            )
    return prefix


@pytest.fixture
def miracl_home(tmp_path: Path) -> Path:
    """A fresh ``IR_DATASETS_HOME`` holding the MIRACL fixture (en dev/train, sw dev, yo dev)."""
    return build_miracl_home(tmp_path / "irds_home")


@pytest.fixture
def miracl_fixture(tmp_path: Path) -> dict:
    """A fresh fixture home and its registered ids: ``{"home", "dataset_id", "train_dataset_id"}``.

    Pass the two templates to ``MiraclBenchmark(..., dataset_id=..., train_dataset_id=...)``.
    """
    home = build_miracl_home(tmp_path / "irds_home")
    prefix = register_miracl_fixture(home)
    return {
        "home": home,
        "dataset_id": prefix + "/{lang}/{split}",
        "train_dataset_id": prefix + "/{lang}/train",
    }


@pytest.fixture
def local_dir(tmp_path: Path) -> Path:
    """A writable copy of ``tests/fixtures/local`` (sw: 2-column corpus, en: 3-column)."""
    dst = tmp_path / "local"
    shutil.copytree(LOCAL_FIXTURE, dst)
    return dst


@pytest.fixture
def local_options() -> dict:
    """Options of the local fixture; relative paths, for ``base_dir=local_dir``."""
    return {
        "pivot": "en",
        "train_pairs": "train.tsv",
        "bitext_dir": "bitext",
        "languages": {
            "sw": {"corpus": "sw/corpus.tsv", "queries": "sw/queries.tsv", "qrels": "sw/qrels.txt", "tier": "low"},
            "en": {"corpus": "en/corpus.tsv", "queries": "en/queries.tsv", "qrels": "en/qrels.txt", "tier": "high"},
        },
    }
