"""Run a matrix into a run directory.

Run directory layout::

    manifest.json                  config (normalised) + sha256, versions, platform, accelerator,
                                   dataset fingerprints, seeds, per-cell status and timings
    config.toml                    the normalised config (re-runnable with `harness run`)
    results.parquet                world, method, seed, mode, language, tier, query_id, metric, value
    qrels/<language>.qrels         TREC qrels used (several modes: qrels/<mode>/<language>.qrels)
    runs/<method>/<seed>/<language>.trec   TREC runs (top k; several modes: .../<seed>/<mode>/<language>.trec)
    analysis.json                  every number the report shows
    report.html                    self-contained report

With several worlds (``[benchmark] worlds``) every world has its own data, so the qrels and runs
sit under the world's label: ``qrels/<world>/...`` and ``runs/<world>/<method>/<seed>/...``; the
results (and dev / budget tables) carry it in their first column ``world``.

Reliability: a file lock stops two runs from writing the same directory; every file is
written to a temporary name and renamed; ``manifest.json`` says ``"status": "running"``
until the end, so an interrupted run never looks finished; a run stopped by Ctrl-C or
SIGTERM says ``"status": "interrupted"`` (with the time and the signal).  Cells are cached as they
finish, so re-running an interrupted config resumes where it stopped and produces the same
per-query scores.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from harness.cache import Cache
from harness.cells import RESULT_COLUMNS, CellDone, CellFailed, CellOutput, CellSpec
from harness.config import HarnessConfig
from harness.engine import Engine
from harness.manifest import build_manifest, now
from harness.progress import WorkEta
from harness.run_store import RunStore, finished_run

Key = tuple[str, str, int]  # (world, method, seed): one cell of the matrix


def default_run_dir(config: HarnessConfig) -> Path:
    return Path(config.raw.output.dir) / f"{config.name}-{config.sha256()[:8]}"


@dataclass
class RunResult:
    run_dir: Path
    status: str  # "complete" | "partial"
    failed: list[CellFailed] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    #: the run directory already held this config's complete run: nothing was computed or written
    already_finished: bool = False


class Renderer(Protocol):
    def __call__(
        self, run_dir: Path, *, manifest: dict[str, Any], analysis: dict[str, Any], results: pd.DataFrame
    ) -> Any: ...


def stderr_log(message: str) -> None:
    """The runner's default log: a line on stderr that never lands inside a progress bar.

    ``tqdm.write`` clears the bars, prints the line and redraws them below it.
    """
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)
    sys.stderr.flush()


def show_warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line of the run's log (never glued to a progress bar, no source echo).

    The harness's own warnings (an unknown-token rate in the user's data, a corrupt cache
    entry, Sinkhorn not converging) say what to do; their file and line would not help.
    Installed as ``warnings.showwarning`` by the command line and in local worker processes.
    """
    origin = (
        ""
        if category.__module__.split(".")[0] in ("harness", "harness_methods", "harness_reports")
        else f" ({category.__name__} from {Path(filename).parent.name}/{Path(filename).name}:{lineno})"
    )
    stderr_log(f"warning: {message}{origin}")


def run_matrix(
    config: HarnessConfig,
    *,
    run_dir: Path | None = None,
    cache: Cache | None = None,
    executor: str | None = None,
    address: str | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    render: Renderer | None = None,
) -> RunResult:
    """Run every (method, seed) cell of ``config`` and write the run directory.

    Four steps: :func:`plan` (the manifest and the cells, cached ones loaded), :func:`execute`
    (the executor computes the rest), :func:`collect` (qrels, per-query tables, world
    measures) and :func:`write` (results, runs, analysis, report, final manifest).

    ``executor`` / ``address`` override the config's ``[executor]`` table (they do not
    change results, so not the config's hash).  ``render(run_dir, manifest=, analysis=,
    results=)`` writes the report; the engine knows no report code, so the command line
    (or ``harness_reports.run_and_report``) passes it in.
    """
    if executor is not None or address is not None:
        config = config.with_executor(executor, address=address)
    t_start = time.perf_counter()
    cache = cache or Cache.default()
    run_dir = Path(run_dir) if run_dir else default_run_dir(config)
    progress = sys.stderr.isatty() if progress is None else progress
    log = log or stderr_log
    finished = finished_run(run_dir, config)
    if finished is not None:
        log(
            f"run {config.name}: already complete in {run_dir} (finished {finished.get('finished')}); "
            "nothing is recomputed or written"
        )
        return _finished_result(run_dir, finished)
    engine, preflight = prepare(config, cache, run_dir, progress, log)
    with RunStore(run_dir) as store:
        finished = finished_run(run_dir, config)  # another process may have finished it meanwhile
        if finished is not None:
            return _finished_result(run_dir, finished)
        p = plan(engine, run_dir, store, preflight, log)
        execute(p, engine, store, progress, log)
        log("analysing the per-query scores and writing the report ...")
        collected = collect(p, engine, log)
        return write(p, collected, engine, store, render, t_start)


def prepare(
    config: HarnessConfig, cache: Cache, run_dir: Path, progress: bool, log: Callable[[str], None]
) -> tuple[Engine, Any]:
    """The engine, its data loaded and checked (every world's), and the preflight report.

    Everything that can refuse the run (device, data, model) is checked here, before the run
    directory exists.
    """
    device = config.executor_cls.device(config.executor)
    engine = Engine(config, cache, progress=progress, device=device)
    worlds = config.worlds
    multi = len(worlds) > 1
    log(
        f"run {config.name}: {len(config.methods)} methods x {len(config.seeds)} seeds"
        + (f" x {len(worlds)} worlds ({', '.join(worlds)})" if multi else "")
        + f" on the {config.benchmark_name} benchmark, device {engine.device}; run directory {run_dir}"
    )
    log(f"benchmark {config.benchmark_name}: loading (generated on first use) ...")
    t_bench = time.perf_counter()
    bench = engine.benchmark
    for w in worlds:  # every world's data is checked before the run directory exists
        _ = engine.for_world(w).benchmark
    log(
        f"benchmark {config.benchmark_name}: {len(bench.languages)} languages"
        + (f" in each of {len(worlds)} worlds" if multi else "")
        + f" ready in {time.perf_counter() - t_bench:.1f} s"
    )
    return engine, engine.preflight()


@dataclass
class Plan:
    """The cells of a run: their specs in matrix order, their manifest entries and the outputs so far."""

    specs: list[CellSpec]
    cells: dict[Key, dict[str, Any]]
    manifest: dict[str, Any]
    outputs: dict[Key, CellOutput] = field(default_factory=dict)
    todo: list[CellSpec] = field(default_factory=list)


def plan(engine: Engine, run_dir: Path, store: RunStore, preflight: Any, log: Callable[[str], None]) -> Plan:
    """Write the starting manifest and ``config.toml``; load every cached cell; the rest is to do."""
    config, cache = engine.matrix_config, engine.cache
    multi = len(config.worlds) > 1
    manifest = build_manifest(config, engine, run_dir, cache, preflight)
    store.write_text("config.toml", config.to_toml())
    specs = engine.plan()
    cells: dict[Key, dict[str, Any]] = {
        (s.world, s.method, s.seed): {
            **({"world": s.world} if multi else {}),
            "method": s.method,
            "seed": s.seed,
            "status": "pending",
            "key": s.key,
        }
        for s in specs
    }
    manifest["cells"] = list(cells.values())
    store.write_json("manifest.json", manifest)
    p = Plan(specs=specs, cells=cells, manifest=manifest)
    for s in specs:
        cached = engine.load_cached_cell(s)
        if cached is not None:
            p.outputs[(s.world, s.method, s.seed)] = cached
            cells[(s.world, s.method, s.seed)].update(status="done", from_cache=True, timings=cached.timings)
        else:
            p.todo.append(s)
    if p.outputs:
        log(f"{len(p.outputs)} of {len(specs)} cells found in the cache ({cache.root})")
    return p


def execute(p: Plan, engine: Engine, store: RunStore, progress: bool, log: Callable[[str], None]) -> None:
    """Compute the cells still to do with the configured executor; cache each and record it as it finishes."""
    from harness.executors import make_executor

    config = engine.matrix_config
    multi = len(config.worlds) > 1
    ex = make_executor(config, engine)
    ex.log = log  # stage lines of the executor (Executor.log)
    ex.work = planned_work(engine, p, log) if p.todo else None  # the ETA's work units (Executor.work)
    if p.todo:
        log(f"{len(p.todo)} cells to compute ({config.executor_name} executor)")
    for out in ex.run(p.todo, progress=progress):
        out.world = out.world or engine.world
        p.outputs[(out.world, out.method, out.seed)] = out
        c = p.cells[(out.world, out.method, out.seed)]
        c.update(status=out.status, from_cache=out.from_cache, timings=out.timings)
        where = f"{out.method}/seed={out.seed}" + (f"/world={out.world}" if multi else "")
        if isinstance(out, CellDone):
            engine.store_cell(out)
            total = sum(out.timings.values())
            log(f"cell {where}: done in {total:.1f} s")
        else:
            c.update(error=out.error, traceback=out.traceback)
            log(f"cell {where}: FAILED: {out.error}")
        store.write_json("manifest.json", p.manifest)
    stages = getattr(ex, "stage_seconds", None)  # LocalExecutor: stages built outside cells (seconds)
    if stages:
        p.manifest["shared_stages"] = dict(stages)


def planned_work(engine: Engine, p: Plan, log: Callable[[str], None]) -> WorkEta | None:
    """The work units of the cells to compute and of the shared stages they need (:mod:`harness.progress`).

    Documents per language come from the preflight's counts.  An estimate that cannot be made
    (e.g. an adapter without pre-training text) leaves the bar without an ETA, never the run.
    """
    from harness.progress import plan_units

    data = (p.manifest.get("preflight") or {}).get("data") or {}
    documents = {lang: int(v["documents"]) for lang, v in data.items() if isinstance(v, dict) and "documents" in v}
    try:
        return WorkEta(plan_units(engine, p.todo, documents or None))
    except Exception as e:  # noqa: BLE001 - the ETA is a convenience: the run goes on without it
        log(f"progress: no ETA for this run (its work could not be estimated: {type(e).__name__}: {e})")
        return None


@dataclass
class Collected:
    """What the run directory is written from: the finished and failed cells and their tables."""

    done: list[CellDone]
    failed: list[CellFailed]
    qrels: dict[str, Any]  # run name (world/mode/language) -> qrels
    data_problems: dict[str, Any]
    results: pd.DataFrame
    budgets: pd.DataFrame | None
    dev: pd.DataFrame | None
    world_measures: dict[str, Any] | None


def collect(p: Plan, engine: Engine, log: Callable[[str], None]) -> Collected:
    """The outputs in matrix order, each language's judged qrels (checked against its corpus), the
    per-query tables and the teacher-level world measures."""
    from harness import corpus
    from harness.cells import run_name
    from harness.validation import qrels_problems

    config, bench = engine.matrix_config, engine.benchmark
    worlds, modes = config.worlds, engine.modes
    multi = len(worlds) > 1
    keys = [(s.world, s.method, s.seed) for s in p.specs]
    done = [o for o in (p.outputs[k] for k in keys) if isinstance(o, CellDone)]
    failed = [o for o in (p.outputs[k] for k in keys) if isinstance(o, CellFailed)]
    qrels: dict[str, Any] = {}
    data_problems: dict[str, Any] = {}
    for world, mode in ((w, m) for w in worlds for m in modes):
        view = engine.for_world(world).view(mode)
        for lang in bench.languages:
            # a streamed corpus is never loaded whole: only its ids are read, keeping the judged ones
            data = corpus.judged_view(view, lang)
            name = (f"{world}/" if multi else "") + run_name(mode, lang, modes)
            qrels[name] = data.qrels
            problems = qrels_problems(data)
            if problems:
                data_problems[name] = problems
                log(
                    f"warning: language {name}: {problems['unknown_documents']} judgement(s) name documents "
                    f"missing from the corpus; {problems['queries_judged_only_on_missing']} quer(y/ies) can "
                    "only score 0"
                )
    # the teacher's initial cross-lingual alignment (bitext top-1, alignment F1; cached stage world-measures)
    t_measures = time.perf_counter()
    world_measures = engine.matrix_world_measures() if done else None  # every world's
    if world_measures is not None:
        log(f"teacher-level alignment measures ready in {time.perf_counter() - t_measures:.1f} s")
    if done:
        results = pd.concat([o.results for o in done], ignore_index=True)[RESULT_COLUMNS]
    else:
        results = pd.DataFrame(
            {
                c: pd.Series(dtype={"seed": "int64", "value": "float64", "world": "string"}.get(c, "object"))
                for c in RESULT_COLUMNS
            }
        )
    curves = [o.budgets for o in done if o.budgets is not None]
    devs = [o.dev_results for o in done if o.dev_results is not None]
    return Collected(
        done=done,
        failed=failed,
        qrels=qrels,
        data_problems=data_problems,
        results=results,
        budgets=pd.concat(curves, ignore_index=True) if curves else None,
        dev=pd.concat(devs, ignore_index=True) if devs else None,
        world_measures=world_measures,
    )


def write(p: Plan, c: Collected, engine: Engine, store: RunStore, render: Renderer | None, t_start: float) -> RunResult:
    """Write qrels, runs, per-query tables, ``analysis.json``, the report and the final manifest."""
    from harness.analysis import analyze_modes
    from harness.retrieval import write_trec_qrels

    config, bench = engine.matrix_config, engine.benchmark
    multi = len(config.worlds) > 1
    manifest = p.manifest
    for name, qrels in c.qrels.items():
        write_trec_qrels(qrels, store.dir / "qrels" / f"{name}.qrels")
    manifest["data_problems"] = c.data_problems
    manifest["benchmark"] = bench.describe()  # after loading: data sizes and statistics filled in
    if c.world_measures is not None:
        manifest["world_measures"] = c.world_measures
    for out in c.done:
        top = f"runs/{out.world}" if multi else "runs"
        for name, text in out.runs.items():  # name: language, or mode/language
            store.write_text(f"{top}/{out.method}/{out.seed}/{name}.trec", text)
    store.write_results(c.results)
    if c.budgets is not None:
        store.write_parquet("budgets.parquet", c.budgets)
    if c.dev is not None:
        store.write_parquet("dev_results.parquet", c.dev)
    for out in c.done:
        if out.info:
            p.cells[(out.world, out.method, out.seed)]["info"] = out.info
    analysis = analyze_modes(c.results, c.dev, c.budgets, config, bench, engine.modes, any_done=bool(c.done))
    if c.world_measures is not None:
        analysis["world_measures"] = c.world_measures
    store.write_json("analysis.json", analysis)
    manifest["status"] = "complete" if not c.failed else "partial"
    manifest["finished"] = now()
    manifest["seconds"] = round(time.perf_counter() - t_start, 3)
    manifest["failed_cells"] = [
        {**({"world": o.world} if multi else {}), "method": o.method, "seed": o.seed, "error": o.error}
        for o in c.failed
    ]
    if render is not None:
        # The report is rendered before the manifest is marked complete; it reads the manifest passed in.
        render(store.dir, manifest=manifest, analysis=analysis, results=c.results)
    store.write_json("manifest.json", manifest)
    return RunResult(
        run_dir=store.dir,
        status=manifest["status"],
        failed=c.failed,
        cells=list(p.cells.values()),
        seconds=manifest["seconds"],
    )


def _finished_result(run_dir: Path, manifest: dict[str, Any]) -> RunResult:
    return RunResult(
        run_dir=Path(run_dir),
        status="complete",
        cells=list(manifest.get("cells") or []),
        seconds=float(manifest.get("seconds") or 0.0),
        already_finished=True,
    )
