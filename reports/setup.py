"""The manifest-derived parts of a report: setup, failed cells, reproducibility.

Pure reshaping of ``manifest.json`` (as written by :func:`harness.runner.run_matrix`) into
records the template shows; nothing here is a statistic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Why MIRACL results do not directly test OPTICAL's claims (shown in reports of MIRACL runs).
SCOPE_NOTE = (
    "MIRACL is monolingual retrieval: queries and passages are in the same language. OPTICAL (Huang, Yu & Allan, "
    "WSDM 2023) was proposed for cross-lingual retrieval (queries in one language, passages in another). The "
    "OT-distillation plugin here is this harness's own documented reading of OPTICAL, evaluated on monolingual "
    "retrieval per language, so these results speak to language bias in monolingual retrieval, not to OPTICAL's "
    "cross-lingual setting."
)
SYNTHETIC_NOTE = (
    "Every number in this report comes from a generated multilingual world "
    "(concepts rendered in invented languages, resource tiers, a small BERT pre-trained on the generated corpus), "
    "not from MIRACL or any real language. It reproduces the mechanism of language bias, not its size in real "
    "data; do not quote these numbers as MIRACL results."
)


@dataclass(frozen=True)
class Segment:
    """A piece of inline text: ``code`` true for a literal (shown as ``<code>``)."""

    text: str
    code: bool = False


# ``literal``, :role:`target` (optionally ~shortened), `link <url>`_ and `interpreted`
_RST_INLINE = re.compile(
    r"``(?P<lit>.+?)``|:[\w.:-]+:`~?(?P<role>[^`]+)`|`(?P<link>[^`<]+?)\s*(?:<[^`>]*>)?`_{1,2}"
    r"|`(?P<interp>[^`]+)`"
)


def rst_inline(text: str) -> tuple[Segment, ...]:
    """Plugin descriptions are reStructuredText (docstring style); split off their inline markup.

    ``bm25s`` and :class:`x.Y` become code segments, `text <url>`_ becomes its text; the
    template renders segments, so no markup is built here and the text stays escaped.
    """
    out: list[Segment] = []
    pos = 0
    for m in _RST_INLINE.finditer(text):
        if m.start() > pos:
            out.append(Segment(text[pos : m.start()]))
        if m.group("lit") is not None:
            out.append(Segment(m.group("lit"), code=True))
        elif m.group("role") is not None:
            out.append(Segment(m.group("role").strip(), code=True))
        elif m.group("link") is not None:
            out.append(Segment(m.group("link")))
        else:
            out.append(Segment(m.group("interp"), code=True))
        pos = m.end()
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return tuple(out)


@dataclass(frozen=True)
class MethodRow:
    name: str
    version: str
    kind: str
    distribution: str
    description: str
    citation: str
    options: str  # JSON text
    description_parts: tuple[Segment, ...] = ()  # the description with its reST inline markup parsed
    control: str = ""  # non-empty: what the entry controls for (a control, not a method under study)


@dataclass(frozen=True)
class CellRow:
    method: str
    seed: int
    status: str
    from_cache: bool
    seconds: float | None
    timings: str  # "stage 1.2 s, ..."
    error: str
    traceback: str


def _text(x: Any) -> str:
    return "" if x is None else str(x)


def methods_table(manifest: dict[str, Any]) -> list[MethodRow]:
    rows = []
    for name, m in (manifest.get("methods") or {}).items():
        m = m or {}
        rows.append(
            MethodRow(
                name=str(name),
                version=_text(m.get("version")),
                kind=_text(m.get("kind")),
                distribution=_text(m.get("distribution")),
                description=_text(m.get("description")),
                citation=_text(m.get("citation")),
                options=json.dumps(m.get("options") or {}, sort_keys=True, indent=None),
                description_parts=rst_inline(_text(m.get("description"))),
                control=_text(m.get("control")),
            )
        )
    return rows


def control_roles(manifest: Mapping[str, Any]) -> dict[str, str]:
    """``{method: role}`` of the run's controls (``manifest["methods"][m]["control"]``, non-empty): the
    report marks them beside their names.  A manifest written before controls were recorded has none."""
    return {
        str(name): str(m["control"])
        for name, m in (manifest.get("methods") or {}).items()
        if isinstance(m, Mapping) and m.get("control")
    }


def cells_table(manifest: dict[str, Any]) -> list[CellRow]:
    rows = []
    for c in manifest.get("cells") or []:
        timings = c.get("timings") or {}
        total = float(sum(timings.values())) if timings else None
        rows.append(
            CellRow(
                method=str(c.get("method")),
                seed=int(c.get("seed", -1)),
                status=_text(c.get("status")),
                from_cache=bool(c.get("from_cache", False)),
                seconds=total,
                timings=", ".join(f"{k} {float(v):.1f} s" for k, v in timings.items()),
                error=_text(c.get("error")),
                traceback=_text(c.get("traceback")),
            )
        )
    return rows


def failed_cells(manifest: dict[str, Any]) -> list[CellRow]:
    """Cells that did not finish, with their error and traceback (from ``cells``, else ``failed_cells``)."""
    rows = [c for c in cells_table(manifest) if c.status not in ("done", "pending")]
    seen = {(c.method, c.seed) for c in rows}
    for f in manifest.get("failed_cells") or []:
        key = (str(f.get("method")), int(f.get("seed", -1)))
        if key not in seen:
            rows.append(
                CellRow(
                    method=key[0],
                    seed=key[1],
                    status="failed",
                    from_cache=False,
                    seconds=None,
                    timings="",
                    error=_text(f.get("error")),
                    traceback=_text(f.get("traceback")),
                )
            )
    return rows


def benchmark_info(manifest: dict[str, Any]) -> dict[str, Any]:
    b = dict(manifest.get("benchmark") or {})
    tiers = {str(k): str(v) for k, v in (b.get("tiers") or {}).items()}
    languages = [str(x) for x in (b.get("languages") or tiers)]
    sizes = b.get("sizes") or {}
    size_rows = [
        {
            "language": lang,
            "tier": tiers.get(lang, ""),
            **{k: sizes[lang].get(k) for k in ("corpus", "queries", "bitext", "pretrain_sentences")},
        }
        for lang in languages
        if lang in sizes
    ]
    by_tier: dict[str, list[str]] = {}
    for lang in languages:
        by_tier.setdefault(tiers.get(lang, "?"), []).append(lang)
    params = b.get("parameters") or {}
    return {
        "name": _text(b.get("name")),
        "pivot": _text(b.get("pivot")),
        "languages": languages,
        "tiers": tiers,
        "by_tier": by_tier,
        "synthetic": bool(b.get("synthetic", False)),
        "sizes": size_rows,
        "generator_version": _text(b.get("generator_version")),
        "parameters": json.dumps(params, sort_keys=True) if params else "",
        "train_pairs": b.get("train_pairs"),
        "is_miracl": str(b.get("name", "")).lower() == "miracl",
        "alignment": alignment_rows(manifest),
    }


def alignment_rows(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The teacher-level alignment measures (``manifest["world_measures"]``) as table rows, or None.

    With several worlds (rows carrying ``"world"``), one row per world and language, and ``means``:
    per language, the mean over its worlds of top-1 and F1 (a world without F1 is left out of F1's).
    """
    wm = manifest.get("world_measures")
    if not wm:
        return None

    def pct(x: Any) -> str:
        return "n/a" if x is None else f"{100 * float(x):.1f} %"

    def num(x: Any) -> str:
        return "n/a" if x is None else f"{float(x):.3f}"

    measured = list(wm.get("languages") or [])
    rows = [
        {
            "world": _text(m.get("world", "")),
            "language": _text(m.get("language")),
            "tier": _text(m.get("tier")),
            "pairs": int(m.get("pairs", 0)),
            "top1": pct(m.get("bitext_top1")),
            "chance": pct(m.get("chance")),
            "f1": num(m.get("alignment_f1")),
            "precision": num(m.get("alignment_precision")),
            "recall": num(m.get("alignment_recall")),
        }
        for m in measured
    ]
    multi = any("world" in m for m in measured)
    means: list[dict[str, Any]] = []
    if multi:
        by_lang: dict[str, list[dict[str, Any]]] = {}
        for m in measured:
            by_lang.setdefault(str(m.get("language")), []).append(m)
        for lang, ms in by_lang.items():
            top1 = [float(m["bitext_top1"]) for m in ms if m.get("bitext_top1") is not None]
            f1 = [float(m["alignment_f1"]) for m in ms if m.get("alignment_f1") is not None]
            means.append(
                {
                    "language": _text(lang),
                    "tier": _text(ms[0].get("tier")),
                    "worlds": len(ms),
                    "top1": pct(sum(top1) / len(top1) if top1 else None),
                    "f1": num(sum(f1) / len(f1) if f1 else None),
                }
            )
    return {
        "rows": rows,
        "multi_world": multi,
        "means": means,
        "seed": wm.get("teacher_seed"),
        "source": _text(wm.get("source")),
    }


def config_toml(run_dir: Path, manifest: dict[str, Any]) -> str:
    """The run's normalised config as TOML: ``config.toml`` of the run, else rendered from the manifest."""
    path = Path(run_dir) / "config.toml"
    if path.is_file():
        return path.read_text()
    import tomli_w

    def drop_none(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: drop_none(v) for k, v in o.items() if v is not None}
        if isinstance(o, list):
            return [drop_none(v) for v in o]
        return o

    return tomli_w.dumps(drop_none(manifest.get("config") or {}))


def reproducibility(run_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    fps = manifest.get("dataset_fingerprints") or {}
    packages = manifest.get("packages") or {}
    return {
        "config_toml": config_toml(run_dir, manifest),
        "config_sha256": _text(manifest.get("config_sha256")),
        "config_source": _text(manifest.get("config_source")),
        "benchmark_fingerprint": _text(fps.get("benchmark")),
        "language_fingerprints": [(str(k), _text(v)) for k, v in (fps.get("languages") or {}).items()],
        "packages": [(str(k), _text(v) if v is not None else "not installed") for k, v in packages.items()],
        "reproduce": _text(manifest.get("reproduce")),
        "command": _text(manifest.get("command")),
        "harness_version": _text(manifest.get("harness_version")),
        "cache_root": _text(manifest.get("cache_root")),
    }


def hardware(manifest: dict[str, Any]) -> dict[str, Any]:
    acc = manifest.get("accelerator") or {}
    return {
        "device": _text(manifest.get("device")),
        "python": _text(manifest.get("python")),
        "platform": _text(manifest.get("platform")),
        "accelerator": ", ".join(f"{k}: {v}" for k, v in acc.items()),
        "numerics": _text((manifest.get("numerics") or {}).get("summary") or "not recorded"),
        "started": _text(manifest.get("started")),
        "finished": _text(manifest.get("finished")),
        "seconds": manifest.get("seconds"),
        "status": _text(manifest.get("status")),
        "shared_stages": ", ".join(f"{k} {float(v):.1f} s" for k, v in (manifest.get("shared_stages") or {}).items()),
    }
