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

import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from filelock import FileLock, Timeout

from harness.cache import Cache, atomic_write_bytes, atomic_write_text
from harness.config import HarnessConfig
from harness.engine import RESULT_COLUMNS, CellOutput, CellSpec, Engine
from harness.errors import RunLockedError

PACKAGES = (
    "xling-harness",
    "torch",
    "transformers",
    "tokenizers",
    "ranx",
    "ir_datasets",
    "POT",
    "statsmodels",
    "scipy",
    "numpy",
    "pandas",
    "pyarrow",
    "bm25s",
    "jinja2",
    "pydantic",
    "matplotlib",
    "numba",
    "ray",
)


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def accelerator() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "cuda_available": torch.cuda.is_available(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
        info["cuda_version"] = torch.version.cuda
    return info


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_run_dir(config: HarnessConfig) -> Path:
    return Path(config.raw.output.dir) / f"{config.name}-{config.sha256()[:8]}"


@dataclass
class RunResult:
    run_dir: Path
    status: str  # "complete" | "partial"
    failed: list[CellOutput] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    #: the run directory already held this config's complete run: nothing was computed or written
    already_finished: bool = False


def finished_run(run_dir: Path, config: HarnessConfig) -> dict[str, Any] | None:
    """The manifest of ``config``'s complete run in ``run_dir``, or None when there is none to keep.

    A finished run directory is a record and is never rewritten: a complete run of the same
    config (same sha256) is returned as is; a run of another config there (complete, partial
    or interrupted) is refused with :class:`~harness.errors.RunFinishedError`, since writing
    into it would mix two configs' files.  A partial or interrupted run of the same config is
    not finished: a re-run resumes it (failed cells are retried).
    """
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        return None
    from harness.errors import RunFinishedError

    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunFinishedError(
            f"run directory {run_dir} holds an unreadable manifest.json ({e}); it is not overwritten: "
            "choose another directory with --out, or remove this one"
        ) from None
    sha = manifest.get("config_sha256")
    if sha != config.sha256():
        raise RunFinishedError(
            f"run directory {run_dir} holds a run of another config ({manifest.get('name')!r}, sha256 "
            f"{str(sha)[:12]}, status {manifest.get('status')}) than this one (sha256 {config.sha256()[:12]}); "
            "a run directory is never rewritten with another config: choose another directory with --out, "
            "or leave --out out (each config gets its own <name>-<sha256[:8]> directory)"
        )
    if manifest.get("status") == "complete" and (Path(run_dir) / "results.parquet").is_file():
        return manifest
    return None


class RunStore:
    """Writes one run directory atomically under a lock."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self._lock: FileLock | None = None
        self._manifest: dict[str, Any] | None = None  # the manifest last written

    def __enter__(self) -> "RunStore":
        self._created = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.dir / ".lock"))
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            self._cleanup_if_empty()
            raise RunLockedError(
                f"run directory {self.dir} is being written by another harness process (lock {self.dir / '.lock'}); "
                "wait for it to finish, or choose another directory with --out"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and issubclass(exc[0], KeyboardInterrupt) and self._manifest is not None:
            # Ctrl-C / SIGTERM: the record says so (never "running" with nobody running it, never finished)
            self._manifest.update(status="interrupted", finished=None, interrupted=now(), signal=_signal_name(exc[1]))
            try:
                self.write_json("manifest.json", self._manifest)
            except OSError:  # e.g. the disk is full: the manifest keeps saying "running", never finished
                pass
        if self._lock is not None:
            self._lock.release()
        if exc[0] is not None:
            self._cleanup_if_empty()

    def _cleanup_if_empty(self) -> None:
        """A directory this store created and never wrote a file into is removed (a refused run creates nothing)."""
        if (
            getattr(self, "_created", False)
            and self.dir.is_dir()
            and all(p.name == ".lock" for p in self.dir.iterdir())
        ):
            (self.dir / ".lock").unlink(missing_ok=True)
            try:
                self.dir.rmdir()
            except OSError:
                pass  # another process wrote into it meanwhile: leave it

    def write_json(self, rel: str, obj: Any) -> None:
        if rel == "manifest.json":
            self._manifest = obj  # marked "interrupted" if the run is stopped (__exit__)
        atomic_write_text(self.dir / rel, json.dumps(obj, indent=2, sort_keys=False, default=str, allow_nan=False))

    def write_text(self, rel: str, text: str) -> None:
        atomic_write_text(self.dir / rel, text)

    def write_results(self, df: pd.DataFrame) -> None:
        self.write_parquet("results.parquet", df)

    def write_parquet(self, rel: str, df: pd.DataFrame) -> None:
        import io

        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write_bytes(self.dir / rel, buf.getvalue())


def _signal_name(exc: BaseException | None) -> str:
    """``SIGTERM`` for the command line's SIGTERM exception (``harness.cli.Terminated``), else ``SIGINT``."""
    from harness.interrupts import sigterm_received

    return "SIGTERM" if type(exc).__name__ == "Terminated" or sigterm_received() else "SIGINT"


class Renderer(Protocol):
    def __call__(
        self, run_dir: Path, *, manifest: dict[str, Any], analysis: dict[str, Any], results: pd.DataFrame
    ) -> Any: ...


def command_line(config: HarnessConfig, run_dir: Path) -> str:
    return f"harness run {shlex.quote(str(run_dir / 'config.toml'))} --out {shlex.quote(str(run_dir))}"


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

    ``executor`` / ``address`` override the config's ``[executor]`` table (they do not
    change results, so not the config's hash).  ``render(run_dir, manifest=, analysis=,
    results=)`` writes the report; the engine knows no report code, so the command line
    (or ``harness_reports.run_and_report``) passes it in.
    """
    from harness.executors import make_executor

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
    # Everything that can refuse the run (device, data, model) is checked before the run directory exists.
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
    preflight = engine.preflight()
    from harness.numerics import numerics_environment

    with RunStore(run_dir) as store:
        finished = finished_run(run_dir, config)  # another process may have finished it meanwhile
        if finished is not None:
            return _finished_result(run_dir, finished)
        manifest: dict[str, Any] = {
            "harness_version": _harness_version(),
            "status": "running",
            "name": config.name,
            "started": now(),
            "finished": None,
            "command": " ".join(shlex.quote(a) for a in sys.argv)
            if sys.argv and sys.argv[0].endswith("harness")
            else None,
            "reproduce": command_line(config, run_dir),
            "config": config.normalized(),
            "config_sha256": config.sha256(),
            "config_source": config.source,
            "config_overrides": list(config.overrides),  # --set KEY=VALUE, in order (part of "config")
            "seeds": config.seeds,
            "worlds": {"labels": worlds, "kind": config.worlds_kind},
            "metrics": config.metrics,
            "benchmark": bench.describe(),
            "dataset_fingerprints": {
                "benchmark": bench.fingerprint(),
                "languages": bench.language_fingerprints(),  # the first (primary) mode's
                **(
                    {"by_mode": {m: engine.view(m).language_fingerprints() for m in engine.modes}}
                    if len(engine.modes) > 1
                    else {}
                ),
                # each world's (the first world's are the ones above)
                **(
                    {
                        "by_world": {
                            w: {
                                "benchmark": engine.for_world(w).benchmark.fingerprint(),
                                "languages": engine.for_world(w).benchmark.language_fingerprints(),
                            }
                            for w in worlds
                        }
                    }
                    if multi
                    else {}
                ),
            },
            "methods": {
                m.name: {
                    "plugin": m.plugin,
                    "group": m.group,
                    "swept": dict(m.swept),
                    "version": m.cls.version,
                    "kind": m.cls.kind,
                    "distribution": _dist(m.plugin),
                    "description": m.cls.description(),
                    "citation": m.cls.citation,
                    "options": m.options.model_dump(mode="json"),
                    # non-empty: a control, not a method under study (the report marks it beside the name)
                    "control": m.cls.control_role(m.options),
                }
                for m in config.methods
            },
            "device": engine.device,
            # torch CPU threads of every trained stage (training.num_threads resolved): part of their identity
            "torch_threads": engine.threads,
            # the mini base encoder's MLM pre-training (mini.threads; null: no mini base)
            "base_threads": engine.base_threads(),
            "preflight": preflight,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "accelerator": accelerator(),
            # what makes floats depend on the machine: CPU ISA, torch's kernels, BLAS/oneDNN, GPU and driver
            "numerics": numerics_environment(),
            "packages": package_versions(),
            "cache_root": str(cache.root),
            "cells": [],
        }
        store.write_text("config.toml", config.to_toml())
        specs = engine.plan()
        cells: dict[tuple[str, str, int], dict[str, Any]] = {
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

        outputs: dict[tuple[str, str, int], CellOutput] = {}
        todo: list[CellSpec] = []
        for s in specs:
            cached = engine.load_cached_cell(s)
            if cached is not None:
                outputs[(s.world, s.method, s.seed)] = cached
                cells[(s.world, s.method, s.seed)].update(status="done", from_cache=True, timings=cached.timings)
            else:
                todo.append(s)
        if outputs:
            log(f"{len(outputs)} of {len(specs)} cells found in the cache ({cache.root})")

        ex = make_executor(config, engine)
        ex.log = log  # stage lines of the executor (Executor.log)
        if todo:
            log(f"{len(todo)} cells to compute ({config.executor_name} executor)")
        for out in ex.run(todo, progress=progress):
            out.world = out.world or engine.world
            outputs[(out.world, out.method, out.seed)] = out
            c = cells[(out.world, out.method, out.seed)]
            c.update(status=out.status, from_cache=out.from_cache, timings=out.timings)
            where = f"{out.method}/seed={out.seed}" + (f"/world={out.world}" if multi else "")
            if out.status == "done":
                engine.store_cell(out)
                total = sum(out.timings.values())
                log(f"cell {where}: done in {total:.1f} s")
            else:
                c.update(error=out.error, traceback=out.traceback)
                log(f"cell {where}: FAILED: {out.error}")
            store.write_json("manifest.json", manifest)
        stages = getattr(ex, "stage_seconds", None)  # LocalExecutor: stages built outside cells (seconds)
        if stages:
            manifest["shared_stages"] = dict(stages)
        log("analysing the per-query scores and writing the report ...")

        # ---------------------------------------------------------------- assemble
        keys = [(s.world, s.method, s.seed) for s in specs]
        done = [outputs[k] for k in keys if outputs[k].status == "done"]
        failed = [outputs[k] for k in keys if outputs[k].status != "done"]
        from harness import corpus
        from harness.engine import run_name
        from harness.retrieval import write_trec_qrels

        data_problems: dict[str, Any] = {}
        modes = engine.modes
        for world, mode in ((w, m) for w in worlds for m in modes):
            view = engine.for_world(world).view(mode)
            for lang in bench.languages:
                # a streamed corpus is never loaded whole: only its ids are read, keeping the judged ones
                data = corpus.judged_view(view, lang)
                name = (f"{world}/" if multi else "") + run_name(mode, lang, modes)
                write_trec_qrels(data.qrels, store.dir / "qrels" / f"{name}.qrels")
                problems = qrels_problems(data)
                if problems:
                    data_problems[name] = problems
                    log(
                        f"warning: language {name}: {problems['unknown_documents']} judgement(s) name documents "
                        f"missing from the corpus; {problems['queries_judged_only_on_missing']} quer(y/ies) can "
                        "only score 0"
                    )
        manifest["data_problems"] = data_problems
        manifest["benchmark"] = bench.describe()  # after loading: data sizes and statistics filled in
        # the teacher's initial cross-lingual alignment (bitext top-1, alignment F1; cached stage world-measures)
        t_measures = time.perf_counter()
        world_measures = engine.matrix_world_measures() if done else None  # every world's
        if world_measures is not None:
            manifest["world_measures"] = world_measures
            log(f"teacher-level alignment measures ready in {time.perf_counter() - t_measures:.1f} s")
        for out in done:
            top = f"runs/{out.world}" if multi else "runs"
            for name, text in out.runs.items():  # name: language, or mode/language
                store.write_text(f"{top}/{out.method}/{out.seed}/{name}.trec", text)
        if done:
            results = pd.concat([o.results for o in done], ignore_index=True)[RESULT_COLUMNS]
        else:
            results = pd.DataFrame(
                {
                    c: pd.Series(dtype={"seed": "int64", "value": "float64", "world": "string"}.get(c, "object"))
                    for c in RESULT_COLUMNS
                }
            )
        store.write_results(results)
        curves = [o.budgets for o in done if o.budgets is not None]
        budgets = pd.concat(curves, ignore_index=True) if curves else None
        if budgets is not None:
            store.write_parquet("budgets.parquet", budgets)
        devs = [o.dev_results for o in done if o.dev_results is not None]
        dev = pd.concat(devs, ignore_index=True) if devs else None
        if dev is not None:
            store.write_parquet("dev_results.parquet", dev)
        for out in done:
            if out.info:
                cells[(out.world, out.method, out.seed)]["info"] = out.info
        analysis = analyze_modes(results, dev, budgets, config, bench, modes, any_done=bool(done))
        if world_measures is not None:
            analysis["world_measures"] = world_measures
        store.write_json("analysis.json", analysis)
        manifest["status"] = "complete" if not failed else "partial"
        manifest["finished"] = now()
        manifest["seconds"] = round(time.perf_counter() - t_start, 3)
        manifest["failed_cells"] = [
            {**({"world": o.world} if multi else {}), "method": o.method, "seed": o.seed, "error": o.error}
            for o in failed
        ]
        if render is not None:
            # The report is rendered before the manifest is marked complete; it reads the manifest passed in.
            render(store.dir, manifest=manifest, analysis=analysis, results=results)
        store.write_json("manifest.json", manifest)
    return RunResult(
        run_dir=run_dir,
        status=manifest["status"],
        failed=failed,
        cells=list(cells.values()),
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


def analyze_modes(
    results: pd.DataFrame,
    dev: pd.DataFrame | None,
    budgets: pd.DataFrame | None,
    config: HarnessConfig,
    bench,
    modes: tuple[str, ...],
    *,
    any_done: bool = True,
) -> dict[str, Any]:
    """``analysis.json``: the protocol and the analysis run once per mode, on that mode's rows only.

    In each mode, each method's variant and budget are chosen on that mode's dev queries and the
    headline is analysed on its test queries (:mod:`harness.protocol`); the shape of the result
    is :func:`harness.modes.combine`'s.
    """
    from harness.modes import combine, split_by_mode
    from harness.protocol import select_on_dev, tuned_results

    res, devs, buds = split_by_mode(results, modes), split_by_mode(dev, modes), split_by_mode(budgets, modes)
    per_mode: dict[str, dict[str, Any]] = {}
    for mode in modes:
        r, d, b = res[mode], devs[mode], buds[mode]
        assert r is not None  # results is a table, so every mode has one (maybe empty)
        opts = config.analysis_for(mode)  # the question's roles in this mode ([question.<mode>])
        selections = select_on_dev(config, d, b) if any_done else {}
        headline = tuned_results(r, b, selections) if selections else r
        a = analyze_results(headline, config, bench, opts)
        a["protocol"] = protocol_summary(
            config, selections, d is not None, getattr(bench, "split_statement", lambda: None)(), opts
        )
        if b is not None and "error" not in a:
            a["budget_curves"] = budget_curves(b[b.split == "test"], headline, config, bench, opts)
        per_mode[mode] = a
    return combine(per_mode)


def analyze_results(results: pd.DataFrame, config: HarnessConfig, bench, options: Any = None) -> dict[str, Any]:
    """The statistics package's analysis as JSON data (``{"error": ...}`` if it cannot run).

    ``options``: the mode's analysis options (:meth:`HarnessConfig.analysis_for`); default the config's.
    """
    from harness.errors import StatisticsError
    from harness.stats import analyze

    if results.empty:
        return {"error": "no finished cells: nothing to analyse"}
    tiers = {lang: bench.tier(lang) for lang in bench.languages}
    try:
        return analyze(
            results,
            options or config.analysis,
            tiers=tiers,
            pivot=getattr(bench, "pivot", None),
            worlds_kind=config.worlds_kind,
        ).to_dict()
    except StatisticsError as e:  # degenerate tables (e.g. one method) are reported, not hidden
        return {"error": str(e)}


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


def protocol_summary(
    config: HarnessConfig,
    selections: dict[str, Any],
    has_dev: bool,
    dev_split: str | None = None,
    options: Any = None,
) -> dict[str, Any]:
    """What the dev rule chose for each method, and whether the compared methods had equal tuning effort.

    ``dev_split`` says in words what the dev queries are (``Benchmark.split_statement()``).
    """
    sel = {g: s.to_dict() for g, s in selections.items()}
    opts = options or config.analysis
    ot, con = opts.treatment, opts.comparator
    grids = {m: sel[m]["grid_size"] for m in (ot, con) if m in sel}
    warnings = []
    if len(set(grids.values())) > 1:
        warnings.append(
            f"unequal tuning effort: {', '.join(f'{m} had {n} candidates' for m, n in grids.items())}; "
            "give both the same sweep and eval_at grid"
        )
    return {
        "rule": (
            "each method's options (sweep) and budget (eval_at checkpoints) chosen by the highest mean primary "
            "metric on the dev queries (mean over queries, languages, then seeds); every headline number "
            "computed on the test queries only" + (f". Dev queries: {dev_split}" if dev_split else "")
            if has_dev
            else "no dev split: every method keeps its configured options and final budget"
            + ("; set benchmark.tuning to tune on dev" if hasattr(config.benchmark, "tuning") else "")
        ),
        "tuned_on": "dev" if has_dev else None,
        "dev_split": dev_split if has_dev else None,
        "reported_on": "test",
        "selections": sel,
        "warnings": warnings,
    }


def budget_curves(
    budgets: pd.DataFrame, results: pd.DataFrame, config: HarnessConfig, bench, options: Any = None
) -> dict[str, Any]:
    """The question and the tier means at every budget of the budget curves (``budgets.parquet``).

    At each budget step count ``b`` shared by the question's OT and contrastive methods, their
    checkpoints at ``b`` replace their final results and :func:`harness.stats.analyze` is
    run on that table (every other method: its final result), so each point is computed
    exactly as the headline is (:func:`harness.stats.analysis.analyze_question`: the question and
    the tier means only).  Returns ``{"points": [...], "crossovers": [...]}``: per
    budget, D with its CI and p-value, the verdict, and each method's tier means.
    """
    from harness.errors import StatisticsError
    from harness.stats.analysis import analyze_question

    opts = options or config.analysis
    ot, con = opts.treatment, opts.comparator
    have = set(budgets.method.unique())
    if not {ot, con} <= have:
        return {"note": f"budget curves need checkpoints of both {ot!r} and {con!r} (eval_at)", "points": []}
    steps = sorted(set(budgets[budgets.method == ot].budget_steps) & set(budgets[budgets.method == con].budget_steps))
    tiers = {lang: bench.tier(lang) for lang in bench.languages}
    points: list[dict[str, Any]] = []
    cols = list(results.columns)
    for b in steps:
        at_b = budgets[(budgets.budget_steps == b) & budgets.method.isin([ot, con])]
        table = pd.concat([results[~results.method.isin([ot, con])], at_b[cols]], ignore_index=True)
        try:
            a = analyze_question(  # = analyze()'s parts
                table, opts, tiers=tiers, pivot=getattr(bench, "pivot", None), worlds_kind=config.worlds_kind
            )
        except StatisticsError as e:
            points.append({"steps": int(b), "error": str(e)})
            continue
        q = a.get("question") or {}
        endpoint = q.get("endpoint", "gap")
        diff = (q.get("difference") or {}).get(endpoint) or {}
        means = [
            {k: g.get(k) for k in ("method", "tier", "mean", "ci")}
            for g in a.get("tier_means", [])
            if g.get("metric") == opts.primary_metric
        ]
        first = at_b.drop_duplicates("method").set_index("method")
        points.append(
            {
                "steps": int(b),
                "examples": {m: _num(first.loc[m, "budget_examples"]) for m in (ot, con) if m in first.index},
                "seconds": {m: _num(first.loc[m, "budget_seconds"]) for m in (ot, con) if m in first.index},
                "verdict": q.get("verdict"),
                "endpoint": endpoint,
                "D": diff.get("estimate"),
                "ci": diff.get("ci"),
                "p_value_seed": diff.get("p_value_seed"),
                # the interval the verdict was decided on (worlds / languages like these / these languages)
                "decisive_interval": q.get("decisive_interval"),
                "tier_means": means,
            }
        )
    ds: list[tuple[int, float]] = [(int(p["steps"]), d) for p in points if (d := _d(p)) is not None]
    crossovers = [{"between_steps": [a_s, b_s]} for (a_s, a_d), (b_s, b_d) in zip(ds, ds[1:]) if (a_d > 0) != (b_d > 0)]
    verdicts = sorted({str(p.get("verdict")) for p in points if "verdict" in p})
    return {
        "treatment": ot,
        "comparator": con,
        "primary_metric": opts.primary_metric,
        "points": points,
        "crossovers": crossovers,
        "verdicts": verdicts,
        "verdict_holds_across_budgets": len(verdicts) == 1,
    }


def _num(x: Any) -> Any:
    try:
        return None if x is None or pd.isna(x) else float(x)
    except (TypeError, ValueError):
        return None


def _d(point: dict[str, Any]) -> float | None:
    d = point.get("D")
    return float(d) if isinstance(d, (int, float)) else None


def _dist(name: str) -> str:
    from harness.registry import method_distribution

    return method_distribution(name)


def _harness_version() -> str:
    from harness import __version__

    return __version__
