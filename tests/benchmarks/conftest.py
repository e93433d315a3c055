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
* :func:`write_miracl_home` writes any MIRACL-format data that way; :func:`miracl_tuning_data`
  is generated data with enough queries per language for a tuning split.
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
    data = {
        lang: {
            "corpus": (MIRACL_FIXTURE / lang / "corpus.jsonl").read_bytes(),
            **{
                f"{split}/{part}": (MIRACL_FIXTURE / lang / split / f"{part}.tsv").read_bytes()
                for split in splits
                for part in ("topics", "qrels")
            },
        }
        for lang, splits in MIRACL_FIXTURE_SPLITS.items()
    }
    return write_miracl_home(home, data)


def write_miracl_home(home: Path, data: dict[str, dict[str, bytes]]) -> Path:
    """Write MIRACL-format files under ``home`` at ir_datasets' paths; return ``home``.

    ``data``: ``language -> {"corpus": JSONL bytes, "<split>/topics": TSV bytes, "<split>/qrels": TSV bytes}``.
    """
    for lang, files in data.items():
        splits = tuple(sorted({k.split("/")[0] for k in files if "/" in k}))
        layout = miracl_layout(lang, splits)
        lines = files["corpus"].splitlines(keepends=True)
        for i, rel in enumerate(layout["docs"]):
            dst = home / "miracl" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(dst, "wb") as f:
                f.write(b"".join(lines[i :: len(layout["docs"])]))
        for key, content in files.items():
            if key == "corpus":
                continue
            dst = home / "miracl" / layout[key][0]
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(content)
    return home


#: Words of the generated MIRACL-format data (all in the tiny BERT's vocabulary of the e2e tests).
_WORDS = {
    "en": "the river nile longest africa flows north sea lion lions live savanna mountain highest".split(),
    "sw": "mto ni mrefu simba mlima tanzania".split(),
    "yo": "odo omi ni simba mto".split(),
}
#: ``language -> (dev queries, train queries)`` of :func:`miracl_tuning_data` (yo: no train split).
TUNING_SIZES = {"en": (12, 6), "sw": (10, 5), "yo": (6, 0)}


def miracl_tuning_data() -> dict[str, dict[str, bytes]]:
    """Generated MIRACL-format data with enough queries to split (:func:`write_miracl_home` input).

    Per language one passage per query (``<lang-index>00<k>#0``); dev query ``1<k>`` judges
    passage k relevant and passage k+1 not; train query ``2<k>`` judges passage k relevant.
    Dev and train query ids are disjoint, as in MIRACL.
    """
    import json

    out: dict[str, dict[str, bytes]] = {}
    for li, (lang, (n_dev, n_train)) in enumerate(TUNING_SIZES.items(), start=1):
        w = _WORDS[lang]
        n_docs = n_dev + 1
        doc = [f"{li}00{k:02d}#0" for k in range(n_docs)]
        corpus = "".join(
            json.dumps(
                {"docid": doc[k], "title": w[k % len(w)], "text": " ".join(w[(k * j) % len(w)] for j in (1, 3, 5))}
            )
            + "\n"
            for k in range(n_docs)
        )
        files = {"corpus": corpus.encode()}
        dev_q = "".join(f"1{k:02d}\t{w[k % len(w)]} {w[(k * 3) % len(w)]}\n" for k in range(n_dev))
        dev_r = "".join(f"1{k:02d}\tQ0\t{doc[k]}\t1\n1{k:02d}\tQ0\t{doc[k + 1]}\t0\n" for k in range(n_dev))
        files["dev/topics"], files["dev/qrels"] = dev_q.encode(), dev_r.encode()
        if n_train:
            tr_q = "".join(f"2{k:02d}\t{w[(k + 1) % len(w)]} {w[k % len(w)]}\n" for k in range(n_train))
            tr_r = "".join(f"2{k:02d}\tQ0\t{doc[k]}\t1\n" for k in range(n_train))
            files["train/topics"], files["train/qrels"] = tr_q.encode(), tr_r.encode()
        out[lang] = files
    return out


def register_miracl_fixture(home: Path, splits: dict[str, tuple[str, ...]] | None = None) -> str:
    """Register ``<prefix>/<lang>/<split>`` datasets over ``home``; return the prefix.

    ``splits``: ``language -> splits`` written there (default: the MIRACL fixture's).
    """
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.datasets.miracl import QRELS_DEFS, MiraclDoc
    from ir_datasets.formats import JsonlDocs, TrecQrels, TsvQueries
    from ir_datasets.util import GzipExtract, LocalDownload

    prefix = f"harness-test-miracl-{next(_counter)}-{home.name}"
    for lang, lang_splits in (splits or MIRACL_FIXTURE_SPLITS).items():
        base, layout = home / "miracl", miracl_layout(lang, lang_splits)
        docs = JsonlDocs(
            [GzipExtract(LocalDownload(base / rel, mkdir=False)) for rel in layout["docs"]],
            doc_cls=MiraclDoc,
            mapping={"doc_id": "docid", "title": "title", "text": "text"},
            namespace=f"{prefix}/{lang}",
            lang=lang,
            docstore_path=base / "v1.0" / lang / "docs.pklz4",
        )
        for split in lang_splits:
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
def tuning_sizes() -> dict[str, tuple[int, int]]:
    """:data:`TUNING_SIZES`: ``language -> (dev queries, train queries)`` of the generated MIRACL data."""
    return dict(TUNING_SIZES)


@pytest.fixture
def miracl_tuning_home(tmp_path: Path) -> Path:
    """A fresh ``IR_DATASETS_HOME`` holding :func:`miracl_tuning_data` (en, sw: dev and train; yo: dev)."""
    return write_miracl_home(tmp_path / "irds_tuning_home", miracl_tuning_data())


@pytest.fixture
def miracl_tuning(miracl_tuning_home: Path) -> dict:
    """:func:`miracl_tuning_data` registered in-process: ``{"home", "dataset_id", "train_dataset_id"}``."""
    splits = {lang: ("dev", "train") if n_train else ("dev",) for lang, (_, n_train) in TUNING_SIZES.items()}
    prefix = register_miracl_fixture(miracl_tuning_home, splits)
    return {
        "home": miracl_tuning_home,
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
