"""TREC run and qrels files: writing, reading, and the harness's rank order in them.

Search itself is :func:`harness.search.sharded_search` (exact, over a sharded document
index); this module turns its ranked lists into standard TREC files and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.cache import atomic_write_text


def trec_run_text(run: Mapping[str, Mapping[str, float]], tag: str, k: int = 100) -> str:
    """A standard TREC run (``qid Q0 docid rank score tag``), top ``k`` per query.

    Ranks follow :func:`harness.search.rank_items` (score descending, then doc id
    descending: trec_eval's order); scores are written in full precision (``repr``), so
    trec_eval re-sorting the file finds exactly this order.
    """
    from harness.search import rank_items

    lines = []
    for qid in sorted(run):
        for rank, (doc, score) in enumerate(rank_items(run[qid], k), 1):
            lines.append(f"{qid} Q0 {doc} {rank} {float(score)!r} {tag}\n")
    return "".join(lines)


def write_trec_run(run: Mapping[str, Mapping[str, float]], path: Path, tag: str, k: int = 100) -> None:
    """Write :func:`trec_run_text` to ``path`` atomically."""
    atomic_write_text(Path(path), trec_run_text(run, tag, k))


def read_trec_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 6:
                raise ValueError(f"{path}:{n}: expected 6 fields 'qid Q0 docid rank score tag', got {line!r}")
            run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run


def write_trec_qrels(qrels: Mapping[str, Mapping[str, int]], path: Path) -> None:
    """Write TREC qrels (``qid 0 docid relevance``)."""
    lines = [f"{q} 0 {d} {int(r)}\n" for q in sorted(qrels) for d, r in sorted(qrels[q].items())]
    atomic_write_text(Path(path), "".join(lines))
