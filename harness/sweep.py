"""Sensitivity sweeps: the question over a grid of config values (``harness run sensitivity``).

A config with a ``[sweep]`` table is a *sweep*: the rest of the file is an ordinary config (the
*base point*), and the sweep names config keys, as ``--set`` writes them, with the values to try::

    [sweep]
    design = "star"                          # star (one factor at a time) | grid (every combination)
    points = [{ "mini.layers" = 4, "methods.ot-distill.layer" = -2 }]   # extra points (corners)
    [sweep.axes]
    "benchmark.alignment_scale" = [0.0, 0.5, 1.5]
    "methods.ot-distill.layer" = [-2]
    [sweep.labels]                           # optional display names of the axes
    "benchmark.alignment_scale" = "initial alignment"

Points.  ``star``: the base point (every axis at the base config's value, id ``default``) and, per
axis, one point per value other than the base's, every other axis at its base value
(``1 + sum_a (|V_a| - [base in V_a])`` points).  ``grid``: the Cartesian product of the axes'
values (the base value of an axis whose list omits it is added, so the base point is always
there).  ``points``: extra points, each a table of axis key -> value (the other axes at the base),
e.g. the corners where two axes interact.  A point's config is the base config with that point's
values merged over it exactly as ``--set`` would (``HarnessConfig.overrides`` records them), so a
point can be re-run alone with ``harness run <base config> --set KEY=VALUE ...``.

Validation happens before any work: an axis key must name an option of the base config (did-you-mean
otherwise), may not name what the sweep replicates over or what does not change results
(``seeds``, ``benchmark.worlds``, ``benchmark.seed``, ``name``, ``description``, ``output``,
``executor``, the question's roles), its values must be distinct scalars, and every point's config
is built and validated.  A drawn benchmark needs at least :data:`MIN_WORLDS` worlds per point: the
world is the unit of replication of D (:mod:`harness.stats.worlds`).

Run directory (``<output.dir>/<name>-<sweep sha256[:8]>``)::

    manifest.json          status (running | complete | partial | interrupted), the sweep's sha256, its
                           normalised table, per point: id, settings, config sha256, directory, status, time
    sweep.toml             the sweep as given (the base config's text with the [sweep] table)
    points/<id>/           one ordinary run directory per point (its own manifest, results, analysis, report)
    sensitivity.json       per point: D (the interval that decided the verdict), the verdict, each tier's
                           mean and the low tier's gain of treatment and comparator (:func:`point_summary`)
    sensitivity.csv        the same, one row per point
    sensitivity.html       the robustness map (written by the renderer the command line passes in)

Every point's stages (worlds, base encoders, teachers, cells) go through the shared cache, so points
that differ only in a method option reuse the world, base encoder and teachers, and a re-run resumes
where it stopped (finished points are kept as they are).  The manifest says ``running`` until every
point is done and ``sensitivity.json`` is written; a finished sweep directory is never rewritten.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.config import HarnessConfig, _merge, config_from_dict, config_table, config_text, parse_set
from harness.errors import ConfigError, did_you_mean
from harness.hashing import hash_json

__all__ = ["MIN_WORLDS", "Axis", "Sweep", "SweepPoint", "SweepResult", "load_sweep", "point_summary", "run_sweep"]

#: Fewest drawn worlds per point (the world is the unit of replication of D).
MIN_WORLDS = 2
#: Axis keys a sweep may not vary: what it replicates over, what does not change results, the question itself.
FORBIDDEN = ("seeds", "benchmark.worlds", "benchmark.seed", "name", "description", "output", "executor", "question")
SCHEMA_VERSION = 1
_SWEEP_KEYS = ("design", "axes", "points", "labels")
_ID_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=,+")

Scalar = bool | int | float | str


@dataclass(frozen=True)
class Axis:
    """One swept config key: ``key`` (dotted, as ``--set`` writes it), display ``label``, ``values``
    (as configured), and ``base`` (the base config's value)."""

    key: str
    label: str
    values: tuple[Scalar, ...]
    base: Scalar

    @property
    def all_values(self) -> tuple[Scalar, ...]:
        """The values with the base value added where the list omits it, in ascending order when numeric."""
        vals = list(self.values)
        if not any(_same(v, self.base) for v in vals):
            vals.append(self.base)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            vals.sort(key=float)
        return tuple(vals)


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: its ``id`` (names its directory), the axis values that differ from the base
    (``settings``, in axis order), its ``kind`` and its validated ``config``."""

    id: str
    settings: tuple[tuple[str, Scalar], ...]
    kind: Literal["default", "axis", "extra", "grid"]
    config: HarnessConfig = field(repr=False, compare=False)

    @property
    def sets(self) -> list[str]:
        """The point as ``--set KEY=VALUE`` arguments over the base config."""
        return [f"{k}={_toml_value(v)}" for k, v in self.settings]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the base config, the axes, the design and every point's config."""

    base: HarnessConfig
    axes: tuple[Axis, ...]
    design: Literal["star", "grid"]
    points: tuple[SweepPoint, ...]
    text: str = ""
    source: str = ""
    sets: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.base.name

    def sweep_table(self) -> dict[str, Any]:
        """The ``[sweep]`` table that gives this sweep (axes with every value, labels, the extra points)."""
        return {
            "design": self.design,
            "axes": {a.key: list(a.values) for a in self.axes},
            "labels": {a.key: a.label for a in self.axes},
            "points": [dict(p.settings) for p in self.points if p.kind == "extra"],
        }

    def table(self) -> dict[str, Any]:
        """The normalised sweep: design, axes (key, label, values, base) and points (id, settings, config sha256)."""
        return {
            "design": self.design,
            "axes": [{"key": a.key, "label": a.label, "values": list(a.all_values), "base": a.base} for a in self.axes],
            "points": [
                {"id": p.id, "kind": p.kind, "settings": dict(p.settings), "config_sha256": p.config.sha256()}
                for p in self.points
            ],
        }

    def sha256(self) -> str:
        """sha256 of the normalised sweep (the base config's sha256 and every point's; output and executor excluded)."""
        return hash_json({"base": self.base.sha256(), **self.table()})

    def run_dir(self) -> Path:
        return Path(self.base.raw.output.dir) / f"{self.name}-{self.sha256()[:8]}"


# --------------------------------------------------------------------------- loading
def load_sweep(path: str | Path | None = None, *, sets: Sequence[str] = ()) -> Sweep | None:
    """The sweep of a config with a ``[sweep]`` table (``None`` for a config without one).

    ``sets`` (``--set KEY=VALUE``) apply to the base config (and may set ``sweep.*`` keys) before
    the points are expanded.  Raises :class:`ConfigError` for a bad sweep or a point whose config
    is invalid, before anything runs.
    """
    data = config_table(path, sets)
    if "sweep" not in data:
        return None
    text, source = config_text(path)
    spec = data.pop("sweep")
    src = source + "".join(f" --set {s}" for s in sets)
    if not isinstance(spec, Mapping):
        raise ConfigError("sweep", spec, "a table: [sweep] with design, axes, points, labels", source=src)
    unknown = [k for k in spec if k not in _SWEEP_KEYS]
    if unknown:
        raise ConfigError(
            f"sweep.{unknown[0]}",
            spec[unknown[0]],
            f"keys among {', '.join(_SWEEP_KEYS)}",
            hint=f"unknown key{did_you_mean(unknown[0], _SWEEP_KEYS)}",
            source=src,
        )
    try:
        base = config_from_dict(data, source=source, text=text, overrides=tuple(sets))
    except ConfigError as e:
        raise ConfigError(e.path, e.value, e.allowed, e.hint, source=src) from e
    design = spec.get("design", "star")
    if design not in ("star", "grid"):
        raise ConfigError("sweep.design", design, "'star' (one factor at a time) or 'grid' (every combination)")
    axes = _axes(base, data, spec.get("axes"), spec.get("labels", {}), src)
    extra = _extra_points(spec.get("points", []), axes, src)
    _check_worlds(base, src)
    points = _points(base, data, axes, design, extra, source, text, tuple(sets), src)
    return Sweep(base, axes, design, points, text=text, source=source, sets=tuple(sets))


def _flat_keys(table: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for k, v in table.items():
        if isinstance(v, Mapping) and v:
            out.update(_flat_keys(v, (*prefix, k)))
        else:
            out[(*prefix, k)] = v
    return out


def _key_parts(key: str, src: str) -> tuple[str, ...]:
    parts: list[str] = []
    node: Any = parse_set(f"{key}=0")
    while isinstance(node, Mapping):
        if len(node) != 1:  # pragma: no cover - a dotted key parses to a chain
            raise ConfigError(f"sweep.axes.{key}", key, "one dotted key", source=src)
        ((k, node),) = node.items()
        parts.append(k)
    return tuple(parts)


def _dotted(parts: Sequence[str]) -> str:
    return ".".join(p if p.replace("-", "").replace("_", "").isalnum() else json.dumps(p) for p in parts)


def _option_fields(base: HarnessConfig, parts: tuple[str, ...]) -> list[str] | None:
    """Field names of the options model a key's last part belongs to (None: not a model section)."""
    head, rest = parts[0], parts[1:]
    models: dict[str, Any] = {
        "benchmark": base.benchmark,
        "mini": base.mini,
        "teacher": base.teacher,
        "training": base.training,
        "analysis": base.analysis,
        "model": base.raw.model,
        "index": base.raw.index,
    }
    if head == "methods" and len(rest) == 2:
        try:
            return list(type(base.method(rest[0]).options).model_fields)
        except LookupError:
            return None
    if len(rest) == 1 and models.get(head) is not None:
        return list(type(models[head]).model_fields)
    return None


def _axes(base: HarnessConfig, data: Mapping[str, Any], axes: Any, labels: Any, src: str) -> tuple[Axis, ...]:
    if not isinstance(axes, Mapping) or not axes:
        raise ConfigError(
            "sweep.axes",
            axes,
            'a table of config key -> list of values, e.g. "benchmark.anchor_fraction" = [0.1, 0.3]',
            source=src,
        )
    if not isinstance(labels, Mapping) or any(not isinstance(v, str) or not v for v in labels.values()):
        raise ConfigError(
            "sweep.labels", labels, "a table of axis key -> display name (a non-empty string)", source=src
        )
    flat = _flat_keys(base.normalized())
    known = sorted(_dotted(k) for k in flat)
    out: list[Axis] = []
    for key, values in axes.items():
        path = f"sweep.axes.{key}"
        parts = _key_parts(key, src)
        dotted = _dotted(parts)
        for bad in FORBIDDEN:
            if dotted == bad or dotted.startswith(bad + "."):
                raise ConfigError(
                    path,
                    key,
                    "a config option other than " + ", ".join(FORBIDDEN),
                    hint="a sweep replicates each point over the base config's seeds and worlds and answers one "
                    "question; output and executor do not change results",
                    source=src,
                )
        fields = _option_fields(base, parts)
        if parts not in flat and (fields is None or parts[-1] not in fields):
            raise ConfigError(
                path,
                key,
                "a dotted key naming an option of the base config (as --set writes it)",
                hint=f"unknown key{did_you_mean(dotted, known)}; `harness config show CONFIG --defaults` lists them",
                source=src,
            )
        if (
            not isinstance(values, list)
            or not values
            or any(isinstance(v, (Mapping, list)) for v in values)
            or len({_toml_value(v) for v in values}) != len(values)
        ):
            raise ConfigError(path, values, "a non-empty list of distinct scalar values", source=src)
        out.append(Axis(dotted, str(labels.get(key, parts[-1])), tuple(values), _base_value(base, data, parts)))
    unknown_labels = [k for k in labels if k not in axes]
    if unknown_labels:
        raise ConfigError(
            f"sweep.labels.{unknown_labels[0]}",
            unknown_labels[0],
            f"an axis key: {', '.join(axes)}",
            hint=f"a label names an axis of [sweep.axes]{did_you_mean(unknown_labels[0], list(axes))}",
            source=src,
        )
    dup = [a.label for a in out if [b.label for b in out].count(a.label) > 1]
    if dup:
        raise ConfigError(
            "sweep.labels", dup[0], "distinct axis labels", hint="give the axes distinct [sweep.labels]", source=src
        )
    return tuple(out)


def _base_value(base: HarnessConfig, data: Mapping[str, Any], parts: tuple[str, ...]) -> Scalar:
    """An axis's value at the base point: as written (with --set), else as normalised, else the field's default."""
    for table in (data, base.normalized()):
        node: Any = table
        for p in parts:
            node = node.get(p) if isinstance(node, Mapping) else None
        if node is not None:
            return node
    head = {"benchmark": base.benchmark, "mini": base.mini, "teacher": base.teacher, "training": base.training}
    model = base.method(parts[1]).options if parts[0] == "methods" else head.get(parts[0])
    if model is None:  # pragma: no cover - _axes accepted the key, so its section exists
        raise ConfigError(f"sweep.axes.{_dotted(parts)}", _dotted(parts), "an option of the base config")
    return type(model).model_fields[parts[-1]].default


def _extra_points(points: Any, axes: Sequence[Axis], src: str) -> list[tuple[tuple[str, Scalar], ...]]:
    if not isinstance(points, list) or any(not isinstance(p, Mapping) or not p for p in points):
        raise ConfigError(
            "sweep.points", points, 'a list of tables of axis key -> value, e.g. [{ "mini.layers" = 4 }]', source=src
        )
    by_key = {a.key: a for a in axes}
    raw_keys = {k: a for k, a in zip([a.key for a in axes], axes)}
    out = []
    for i, p in enumerate(points):
        settings = []
        for k, v in p.items():
            a = by_key.get(_dotted(_key_parts(k, src))) or raw_keys.get(k)
            if a is None:
                raise ConfigError(
                    f"sweep.points[{i}].{k}",
                    k,
                    f"an axis key: {', '.join(by_key)}",
                    hint=f"extra points move the axes only{did_you_mean(k, list(by_key))}",
                    source=src,
                )
            if isinstance(v, (Mapping, list)):
                raise ConfigError(f"sweep.points[{i}].{k}", v, "a scalar value", source=src)
            settings.append((a.key, v))
        order = [a.key for a in axes]
        out.append(tuple(sorted(settings, key=lambda kv: order.index(kv[0]))))
    return out


def _check_worlds(base: HarnessConfig, src: str) -> None:
    if base.worlds_kind == "drawn" and len(base.worlds) < MIN_WORLDS:
        raise ConfigError(
            "benchmark.worlds",
            [int(w) for w in base.worlds],
            f"at least {MIN_WORLDS} drawn worlds (each point is run on every world)",
            hint="the world is the unit of replication of D: with one world a point's D has no world-level "
            "interval; write e.g. worlds = [13, 14]",
            source=src,
        )


def _points(
    base: HarnessConfig,
    data: Mapping[str, Any],
    axes: Sequence[Axis],
    design: str,
    extra: Sequence[tuple[tuple[str, Scalar], ...]],
    source: str,
    text: str,
    sets: tuple[str, ...],
    src: str,
) -> tuple[SweepPoint, ...]:
    combos: list[tuple[tuple[tuple[str, Scalar], ...], str]] = [((), "default")]
    if design == "star":
        for a in axes:
            combos += [(((a.key, v),), "axis") for v in a.all_values if not _same(v, a.base)]
    else:
        for values in itertools.product(*(a.all_values for a in axes)):
            moved = tuple((a.key, v) for a, v in zip(axes, values) if not _same(v, a.base))
            if moved:
                combos.append((moved, "grid"))
    seen = {_combo_key(c) for c, _ in combos}
    for settings in extra:
        moved = tuple((k, v) for k, v in settings if not _same(v, next(a.base for a in axes if a.key == k)))
        if _combo_key(moved) not in seen:
            combos.append((moved, "extra"))
            seen.add(_combo_key(moved))
    labels = {a.key: a.label for a in axes}
    points = []
    for settings, kind in combos:
        pid = "default" if not settings else ",".join(f"{_safe(labels[k])}={_safe(_fmt(v))}" for k, v in settings)
        point_sets = [f"{k}={_toml_value(v)}" for k, v in settings]
        table = dict(data)
        for s in point_sets:
            table = _merge(table, parse_set(s))
        try:
            cfg = config_from_dict(table, source=source, text=text, overrides=(*sets, *point_sets))
        except ConfigError as e:
            raise ConfigError(
                f"sweep point {pid!r}: {e.path}",
                e.value,
                e.allowed,
                e.hint,
                source=src + "".join(f" --set {s}" for s in point_sets),
            ) from e
        points.append(SweepPoint(pid, settings, kind, cfg))  # type: ignore[arg-type]
    return tuple(points)


def _combo_key(settings: Sequence[tuple[str, Scalar]]) -> str:
    return json.dumps(sorted((k, _toml_value(v)) for k, v in settings))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)
    return a == b


def _fmt(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def _safe(s: str) -> str:
    return "".join(c if c in _ID_SAFE else "_" for c in s)


def _toml_value(v: Any) -> str:
    import tomli_w

    return tomli_w.dumps({"v": v}).split("=", 1)[1].strip()


# --------------------------------------------------------------------------- per-point summary
def point_summary(analysis: Mapping[str, Any] | None) -> dict[str, Any]:
    """The question's numbers of one point's ``analysis.json`` (primary mode): what the map draws.

    ``D`` is the estimate of the interval that decided the verdict (``question.decisive_interval``:
    over worlds with two or more drawn worlds), ``ci`` that interval and ``scope`` its scope;
    ``tier_means`` the primary metric's tier means of treatment, comparator and baseline;
    ``low_tier_gain`` the co-primary endpoint (each role's gain over the baseline on the low tier).
    """
    if not analysis or "question" not in analysis:
        return {"error": (analysis or {}).get("error", "no analysis")}
    q = analysis["question"]
    endpoint = q.get("endpoint", "gap")
    dec = q.get("decisive_interval") or {}
    diff = (q.get("difference") or {}).get(endpoint) or {}
    roles = q.get("methods") or {}
    metric = q.get("metric")
    means = {
        (g.get("method"), g.get("tier")): g.get("mean")
        for g in analysis.get("tier_means", [])
        if g.get("metric") == metric
    }
    role_names = {r: roles.get(r) for r in ("treatment", "comparator", "baseline")}
    gains = q.get("low_tier_gain") or {}
    return {
        "mode": analysis.get("mode"),
        "metric": metric,
        "endpoint": endpoint,
        "verdict": q.get("verdict"),
        "D": dec.get("estimate", diff.get("estimate")),
        "ci": dec.get("ci", diff.get("ci")),
        "p_value": dec.get("p_value", diff.get("p_value_seed")),
        "scope": dec.get("scope"),
        "roles": role_names,
        "tier_means": {
            str(m): {str(t): means.get((m, t)) for t in q.get("tiers") or ("high", "low")}
            for m in role_names.values()
            if m
        },
        "low_tier_gain": {
            m: {"estimate": g.get("estimate"), "ci": g.get("ci")} for m, g in gains.items() if isinstance(g, Mapping)
        },
        "qualifiers": list(q.get("qualifiers") or []),
    }


# --------------------------------------------------------------------------- running
@dataclass
class SweepResult:
    run_dir: Path
    status: str  # "complete" | "partial"
    points: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    already_finished: bool = False
    #: ``sensitivity.json``'s content (None only when another process finished the sweep meanwhile)
    sensitivity: dict[str, Any] | None = None


def finished_sweep(run_dir: Path, sweep: Sweep) -> dict[str, Any] | None:
    """The manifest of ``sweep``'s complete run in ``run_dir``, None when there is none; another sweep
    there is refused (:class:`~harness.errors.RunFinishedError`), as :func:`harness.runner.finished_run` does."""
    from harness.errors import RunFinishedError

    path = Path(run_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError) as e:
        raise RunFinishedError(f"sweep directory {run_dir} holds an unreadable manifest.json ({e})") from None
    if manifest is None:
        return None
    if manifest.get("kind") != "sweep" or manifest.get("sweep_sha256") != sweep.sha256():
        raise RunFinishedError(
            f"directory {run_dir} holds another run ({manifest.get('name')!r}, status {manifest.get('status')}) than "
            f"this sweep (sha256 {sweep.sha256()[:12]}); it is never rewritten: choose another directory with --out"
        )
    if manifest.get("status") == "complete" and (Path(run_dir) / "sensitivity.json").is_file():
        return manifest
    return None


def run_sweep(
    sweep: Sweep,
    *,
    run_dir: Path | None = None,
    cache: Any = None,
    executor: str | None = None,
    address: str | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    render: Any = None,
    render_map: Callable[..., Any] | None = None,
) -> SweepResult:
    """Run every point of ``sweep`` as an ordinary matrix (``points/<id>/``), then summarise.

    ``render`` renders each point's report (as :func:`harness.runner.run_matrix` takes it);
    ``render_map(run_dir, sensitivity=...)`` writes the robustness map.  Points already complete
    are kept as they are; a point with failed cells makes the sweep ``partial`` (a re-run retries it).
    """
    from harness.manifest import now, package_versions
    from harness.run_store import RunStore
    from harness.runner import run_matrix, stderr_log

    log = log or stderr_log
    run_dir = Path(run_dir) if run_dir else sweep.run_dir()
    t0 = time.perf_counter()
    done = finished_sweep(run_dir, sweep)
    if done is not None:
        log(f"sweep {sweep.name}: already complete in {run_dir}; nothing is recomputed or written")
        stored = json.loads((run_dir / "sensitivity.json").read_text())
        return SweepResult(run_dir, "complete", done.get("points", []), 0.0, True, stored)
    log(
        f"sweep {sweep.name}: {len(sweep.points)} points ({sweep.design} over "
        + ", ".join(a.label for a in sweep.axes)
        + f") x {len(sweep.base.worlds)} worlds; directory {run_dir}"
    )
    with RunStore(run_dir) as store:
        if finished_sweep(run_dir, sweep) is not None:  # finished by another process meanwhile
            return SweepResult(run_dir, "complete", [], 0.0, already_finished=True)
        rows: list[dict[str, Any]] = [
            {
                "id": p.id,
                "kind": p.kind,
                "settings": dict(p.settings),
                "sets": p.sets,
                "config_sha256": p.config.sha256(),
                "dir": f"points/{p.id}",
                "status": "pending",
                "seconds": None,
            }
            for p in sweep.points
        ]
        manifest: dict[str, Any] = {
            "kind": "sweep",
            "schema_version": SCHEMA_VERSION,
            "status": "running",
            "name": sweep.name,
            "started": now(),
            "finished": None,
            "sweep_sha256": sweep.sha256(),
            "base_config_sha256": sweep.base.sha256(),
            "sweep": sweep.table(),
            "packages": package_versions(),
            "points": rows,
        }
        store.write_json("manifest.json", manifest)
        store.write_text("sweep.toml", sweep.text)
        for i, (p, row) in enumerate(zip(sweep.points, rows), 1):
            log(f"sweep point {i}/{len(rows)} {p.id}" + (f" ({' '.join(p.sets)})" if p.sets else " (the base config)"))
            t = time.perf_counter()
            res = run_matrix(
                p.config,
                run_dir=run_dir / row["dir"],
                cache=cache,
                executor=executor,
                address=address,
                progress=progress,
                log=log,
                render=render,
            )
            row.update(status=res.status, seconds=round(time.perf_counter() - t, 1), from_cache=res.already_finished)
            store.write_json("manifest.json", manifest)
            log(f"sweep point {p.id}: {res.status} in {row['seconds']:.1f} s")
        sensitivity = summarise(sweep, run_dir, rows)
        status = "complete" if all(r["status"] == "complete" for r in rows) else "partial"
        seconds = round(time.perf_counter() - t0, 1)
        sensitivity["status"] = status
        sensitivity["seconds"] = seconds
        store.write_text("sensitivity.csv", _csv(sensitivity))
        if render_map is not None:
            render_map(run_dir, sensitivity=sensitivity)
        store.write_json("sensitivity.json", sensitivity)
        manifest.update(status=status, finished=now(), seconds=seconds)
        store.write_json("manifest.json", manifest)
    return SweepResult(run_dir, status, rows, seconds, sensitivity=sensitivity)


def summarise(sweep: Sweep, run_dir: Path, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``sensitivity.json``: the axes and, per point, its settings, status, time and :func:`point_summary`."""
    points = []
    for p, row in zip(sweep.points, rows):
        path = run_dir / str(row["dir"]) / "analysis.json"
        analysis = json.loads(path.read_text()) if path.is_file() else None
        points.append(
            {
                "id": p.id,
                "kind": p.kind,
                "settings": dict(p.settings),
                "values": {a.key: dict(p.settings).get(a.key, a.base) for a in sweep.axes},
                "status": row["status"],
                "seconds": row["seconds"],
                "dir": row["dir"],
                **point_summary(analysis),
            }
        )
    verdicts = sorted({str(p.get("verdict")) for p in points if p.get("verdict")})
    q = sweep.base.analysis
    return {
        "schema_version": SCHEMA_VERSION,
        "name": sweep.name,
        "sweep_sha256": sweep.sha256(),
        "design": sweep.design,
        "worlds": sweep.base.worlds,
        "seeds": sweep.base.seeds,
        "question": {"treatment": q.treatment, "comparator": q.comparator, "baseline": q.baseline},
        "target_difference": q.target_difference,
        "axes": [{"key": a.key, "label": a.label, "values": list(a.all_values), "base": a.base} for a in sweep.axes],
        "points": points,
        "verdicts": verdicts,
        "verdict_holds_everywhere": len(verdicts) == 1,
    }


def _csv(sensitivity: Mapping[str, Any]) -> str:
    import csv
    import io

    axes = [a["key"] for a in sensitivity["axes"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["point", "kind", *axes, "status", "verdict", "D", "ci_low", "ci_high", "scope", "seconds"])
    for p in sensitivity["points"]:
        ci = p.get("ci") or (None, None)
        w.writerow(
            [
                p["id"],
                p["kind"],
                *(p["values"][k] for k in axes),
                p["status"],
                p.get("verdict"),
                p.get("D"),
                ci[0],
                ci[1],
                p.get("scope"),
                p["seconds"],
            ]
        )
    return buf.getvalue()
