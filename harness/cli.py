"""Command line: ``harness run | config show | methods | plugins | report | compare | reproduce``.

Heavy libraries (torch, transformers, ranx) are imported only by the commands that need
them, so ``harness --help`` and ``harness methods --help`` stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

#: Exit codes: 0 done; 1 some cells failed (the run is "partial"); 2 bad input (config, data, arguments:
#: nothing was run); 3 the environment failed (disk full, out of memory, a missing device); 130 / 143
#: interrupted by Ctrl-C / SIGTERM (finished cells are cached; a re-run resumes).
EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, a cluster scheduler) turned into an exception, so it unwinds like Ctrl-C."""


def _on_sigterm(signum, frame):  # pragma: no cover - exercised in a subprocess test
    from harness.interrupts import note_sigterm

    note_sigterm()  # Ray's blocking calls re-raise Terminated as a plain KeyboardInterrupt: the flag stays
    raise Terminated()


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help="run directory (default: <output.dir>/<name>-<config sha256[:8]>)")
    p.add_argument("--cache-dir", metavar="DIR", help="cache root (default: $HARNESS_CACHE or ~/.cache/harness)")
    p.add_argument(
        "--executor",
        metavar="KIND",
        help="where cells run: a registered executor, e.g. local or ray (default: the config's executor.kind; "
        "`harness plugins` lists them)",
    )
    p.add_argument(
        "--address", metavar="ADDR", help="Ray cluster address (with --executor ray); default: start a local instance"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-cell lines")


def _add_set_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        dest="sets",
        help="override one config value (repeatable; a dotted key and a TOML value, e.g. --set seeds=[0,1] "
        "--set methods.ot-distill.steps=100); validated like the file, recorded in the manifest, part of the "
        "config's sha256",
    )


def _wrap(text: str) -> str:
    """A description wrapped for a parser whose formatter keeps text as given (so the epilog's table stays)."""
    import textwrap

    return textwrap.fill(text, width=88)


def _shipped_epilog() -> str:
    """The shipped configs with their descriptions (``harness run --help``, ``harness config show --help``)."""
    import textwrap

    shipped = shipped_configs()
    width = max(len(n) for n in shipped) + 2 if shipped else 0
    lines = ["shipped configs (give the name as CONFIG):"]
    for name, desc in shipped.items():
        wrapped = textwrap.wrap(desc or "(no description)", width=max(40, 88 - width))
        lines.append(f"  {name.ljust(width)}{wrapped[0]}")
        lines.extend(" " * (width + 2) + w for w in wrapped[1:])
    return "\n".join(lines)


def shipped_configs() -> dict[str, str]:
    """The configs shipped in ``harness/configs``: ``{name: description}`` (read without importing the engine)."""
    import importlib.resources

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    out: dict[str, str] = {}
    root = importlib.resources.files("harness") / "configs"
    for res in sorted(root.iterdir(), key=lambda r: r.name):
        if res.name.endswith(".toml"):
            try:
                out[res.name[:-5]] = str(tomllib.loads(res.read_text()).get("description", ""))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):  # pragma: no cover - shipped configs are tested
                out[res.name[:-5]] = ""
    return out


def plain_text(text: str) -> str:
    """reST inline markup as plain text: ``:class:`~a.B``` -> ``B``, ````code```` -> ``code``.

    Examples
    --------
    >>> plain_text("Okapi BM25 (``bm25s``), see :class:`~harness.plugin.Method` and :func:`f <a.f>`.")
    'Okapi BM25 (bm25s), see Method and f.'
    """
    import re

    def role(m: re.Match[str]) -> str:
        inner = m.group(1)
        titled = re.fullmatch(r"(.*?)\s*<[^>]*>", inner)
        if titled:
            return titled.group(1)
        if inner.startswith("~"):
            return inner[1:].rsplit(".", 1)[-1]
        return inner.lstrip("!")

    text = re.sub(r":[A-Za-z][\w.+-]*(?::[A-Za-z][\w.+-]*)*:`([^`]+)`", role, text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r"(?<![\w`])`([^`]+)`_{0,2}(?![\w`])", r"\1", text)


def version_text() -> str:
    """``harness --version``: the installed distribution's version (the package's own if not installed)."""
    from importlib import metadata

    from harness import __version__

    try:
        ver = metadata.version("xling-harness")
    except metadata.PackageNotFoundError:
        ver = __version__
    return f"harness {ver} (xling-harness, Python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Statistical benchmarking harness for cross-lingual retrieval methods.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=version_text(),
        help="show the harness version (and the Python running it) and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run a matrix (methods x seeds, per language) and write a run directory",
        description=_wrap(
            "Run the matrix described by CONFIG (a TOML file, or the name of a shipped config). "
            "With no CONFIG, runs the embedded default matrix. A finished run directory is never rewritten: "
            "running a config whose run is complete prints where it is and does nothing."
        ),
        epilog=_shipped_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", help="TOML config path or shipped config name (default: embedded default)")
    _add_set_arg(p)
    _add_run_args(p)

    p = sub.add_parser(
        "config",
        help="show a config (shipped or a file), optionally with every default filled in",
        description="Work with configs without running them.",
    )
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    q = csub.add_parser(
        "show",
        help="print a config",
        description=_wrap(
            "Print a shipped config (by name) or a TOML file as written; with --defaults, the normalised "
            "config: validated, every default filled in (what a run records in config.toml and hashes)."
        ),
        epilog=_shipped_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("name", nargs="?", help="shipped config name or TOML path (default: the embedded default)")
    q.add_argument("--defaults", action="store_true", help="the normalised config, every default filled in")
    _add_set_arg(q)

    p = sub.add_parser(
        "methods",
        help="list registered method plugins",
        description="List method plugins found through the 'harness.methods' entry-point group, "
        "with version, providing distribution and description. Broken plugins are reported.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser(
        "plugins",
        help="list every registered extension: methods, benchmarks, executors",
        description="List the extensions found through the entry-point groups harness.methods, "
        "harness.benchmarks and harness.executors, with version, providing distribution "
        "and description. Broken plugins are reported.",
    )
    p.add_argument("--kind", choices=["method", "benchmark", "executor"], help="only this kind")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser(
        "report",
        help="re-render a run directory's report from stored results (no training), beside the run",
        description="Re-render the report of RUN_DIR from its stored files. A finished run directory is never "
        "modified: the report goes to a new directory beside it (default <RUN_DIR>-report) unless --force.",
    )
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="output directory (default: <run_dir>-report beside the run)")
    p.add_argument(
        "--force", action="store_true", help="overwrite report.html and the exports inside the run directory"
    )

    p = sub.add_parser(
        "compare",
        help="compare two run directories (paired per query): a terminal summary and a comparison report",
        description="Compare run B against run A, per method, language and metric, paired per query; print a "
        "summary and write compare.html with exports. The same directory twice is refused; identical runs, runs "
        "of one config, and runs that differ only in seeds (seed noise, tested over seeds) are flagged.",
    )
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--out", type=Path, help="new output directory (default: compare-<run_a>-vs-<run_b> beside run_b)")

    p = sub.add_parser("reproduce", help="re-run a run directory's config and check every per-query score")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="directory of the new run (default: <run_dir>-reproduce)")
    p.add_argument(
        "--cache-dir", metavar="DIR", help="cache root; default: a fresh temporary cache, so nothing is reused"
    )
    p.add_argument(
        "--tolerance", type=float, default=None, help="allowed absolute difference (default 0 on CPU, 1e-3 on GPU)"
    )
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from harness.runner import show_warning_line

    show_warning_line(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    import errno
    import signal

    from harness.errors import HarnessError
    from harness.interrupts import note_sigterm

    note_sigterm(False)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    show_warning = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return COMMANDS[args.command](args)
    except HarnessError as e:
        print(f"harness {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `harness methods --json | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except MemoryError:
        print(
            f"harness {args.command}: error: out of memory; lower training.encode_batch_size or the batch sizes, "
            "or use a machine with more memory",
            file=sys.stderr,
        )
        return EXIT_ENVIRONMENT
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            where = _full_path(e, args)
            print(
                f"harness {args.command}: error: no space left on the device mounted at {_mount_point(where)} "
                f"(writing {where}; {_free(where)} free there); nothing unfinished was kept: free space (the cache "
                "is --cache-dir / $HARNESS_CACHE) and run the same command again to resume",
                file=sys.stderr,
            )
            return EXIT_ENVIRONMENT
        raise
    except KeyboardInterrupt as e:
        from harness.interrupts import sigterm_received

        if not (isinstance(e, Terminated) or sigterm_received()):
            print(
                f"harness {args.command}: interrupted; finished cells are cached and a re-run resumes", file=sys.stderr
            )
            return EXIT_INTERRUPTED
        print(
            f"harness {args.command}: terminated (SIGTERM); finished cells are cached, temporary files were "
            "removed, and a re-run resumes",
            file=sys.stderr,
        )
        return EXIT_TERMINATED
    finally:
        signal.signal(signal.SIGTERM, previous)
        warnings.showwarning = show_warning


def _existing(path: Path) -> Path:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _full_path(e: OSError, args: Any) -> Path:
    """The path whose device is full: the error's file, else (no file named) the candidate the command writes
    to (its cache, its output directory, the working directory) with the least free space."""
    import shutil

    if e.filename:
        return Path(e.filename)
    from harness.cache import default_cache_root

    candidates = [Path(p) for p in (getattr(args, "cache_dir", None), getattr(args, "out", None)) if p]
    candidates += [default_cache_root(), Path.cwd()]

    def free(p: Path) -> float:
        try:
            return shutil.disk_usage(_existing(p)).free
        except OSError:
            return float("inf")

    return min(candidates, key=free)


def _mount_point(path: Path) -> Path:
    """The mount point of the file system holding ``path`` (where ``st_dev`` changes going up)."""
    p = _existing(path)
    try:
        dev = p.stat().st_dev
        while p != p.parent and p.parent.stat().st_dev == dev:
            p = p.parent
    except OSError:
        pass
    return p


def _free(path: Path) -> str:
    import shutil

    try:
        free = shutil.disk_usage(_existing(path)).free
    except OSError:
        return "unknown"
    return f"{free / 2**20:.1f} MiB" if free < 2**30 else f"{free / 2**30:.1f} GiB"


def cmd_run(args) -> int:
    from harness.cache import Cache
    from harness.config import load_config
    from harness.runner import run_matrix
    from harness.sweep import load_sweep
    from harness_reports import render_report

    sweep = load_sweep(args.config, sets=args.sets)  # a config with a [sweep] table: one run per point
    if sweep is not None:
        return _run_sweep(args, sweep)
    config = load_config(args.config, sets=args.sets)
    cache = Cache(args.cache_dir) if args.cache_dir else Cache.default()
    log = (lambda s: None) if args.quiet else None
    res = run_matrix(
        config,
        run_dir=Path(args.out) if args.out else None,
        cache=cache,
        executor=args.executor,
        address=args.address,
        progress=False if args.quiet else None,
        log=log,
        render=render_report,
    )
    _summary(res.run_dir)
    if res.already_finished:
        print(
            f"already finished: {res.run_dir} holds the complete run of this config (sha256 "
            f"{config.sha256()[:12]}); nothing was recomputed or written. Its report: {res.run_dir / 'report.html'}. "
            "To run it again from scratch use `harness reproduce DIR`; to re-render the report, `harness report DIR`"
        )
        return EXIT_OK
    print(f"run directory: {res.run_dir}")
    print(f"report: {res.run_dir / 'report.html'}")
    print(f"status: {res.status} ({len(res.cells) - len(res.failed)}/{len(res.cells)} cells, {res.seconds:.1f} s)")
    for f in res.failed:
        print(f"  failed: {f.method} seed={f.seed}: {f.error}")
    return EXIT_OK if not res.failed else EXIT_FAILED_CELLS


def _run_sweep(args, sweep) -> int:
    """``harness run`` of a sweep config (:mod:`harness.sweep`): every point, then the robustness map."""
    from harness.cache import Cache
    from harness.sweep import run_sweep
    from harness_reports import render_report
    from harness_reports.sensitivity import render_sensitivity

    res = run_sweep(
        sweep,
        run_dir=Path(args.out) if args.out else None,
        cache=Cache(args.cache_dir) if args.cache_dir else Cache.default(),
        executor=args.executor,
        address=args.address,
        progress=False if args.quiet else None,
        log=(lambda s: None) if args.quiet else None,
        render=render_report,
        render_map=render_sensitivity,
    )
    if res.already_finished:
        print(
            f"already finished: {res.run_dir} holds the complete sweep of this config (sha256 "
            f"{sweep.sha256()[:12]}); nothing was recomputed or written. Its map: {res.run_dir / 'sensitivity.html'}"
        )
        return EXIT_OK
    print(f"sweep directory: {res.run_dir}")
    print(f"robustness map: {res.run_dir / 'sensitivity.html'}")
    print(f"status: {res.status} ({len(res.points)} points, {res.seconds:.1f} s)")
    for p in (res.sensitivity or {}).get("points", []):
        ci = p.get("ci") or (None, None)
        d = (
            "-"
            if p.get("D") is None
            else f"{p['D']:+.4f}" + ("" if ci[0] is None else f" [{ci[0]:+.4f}, {ci[1]:+.4f}]")
        )
        print(f"  {p['id']}: {p['status']}, verdict {p.get('verdict') or '-'}, D {d}, {p['seconds']:.1f} s")
    return EXIT_OK if res.status == "complete" else EXIT_FAILED_CELLS


def _summary(run_dir: Path) -> None:
    """The question, verdict and tier-means table of a run directory's ``analysis.json`` (to stdout)."""
    import json

    from harness_reports.terminal import print_summary

    path = Path(run_dir) / "analysis.json"
    analysis = json.loads(path.read_text()) if path.is_file() else None
    print()
    print_summary(analysis)
    print()


def _list_plugins(infos, as_json: bool, with_kind: bool) -> int:
    import json

    if as_json:
        print(
            json.dumps(
                [
                    {
                        "kind": m.kind,
                        "name": m.name,
                        "version": m.version,
                        "distribution": m.distribution,
                        "flavour": m.flavour,
                        "description": m.description,
                        "error": m.error,
                    }
                    for m in infos
                ],
                indent=1,
            )
        )
        return EXIT_OK
    rows = [
        ((m.kind,) if with_kind else ())
        + (m.name, m.version or "-", m.distribution, plain_text(m.description) if m.ok else f"BROKEN: {m.error}")
        for m in infos
    ]
    head = (("KIND",) if with_kind else ()) + ("NAME", "VERSION", "DISTRIBUTION", "DESCRIPTION")
    n = len(head) - 1
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(n)]
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r[:n], widths)) + "  " + str(r[n]))
    broken = [m for m in infos if not m.ok]
    if broken:
        print(f"\n{len(broken)} plugin(s) failed to load; the others are usable.", file=sys.stderr)
    return EXIT_OK


def cmd_config(args) -> int:
    import tomli_w

    from harness.config import config_table, config_text, load_config
    from harness.sweep import load_sweep

    sweep = load_sweep(args.name, sets=args.sets) if args.defaults else None
    if sweep is not None:  # a sweep: its base config normalised, then its [sweep] table and points
        print(f"# {sweep.name}: {sweep.source}; a sweep of {len(sweep.points)} points, sha256 {sweep.sha256()}")
        print(f"# base config normalised (every default filled in); sha256 {sweep.base.sha256()}")
        print(sweep.base.to_toml(), end="")
        print(tomli_w.dumps({"sweep": _drop_empty(sweep.sweep_table())}), end="")
        for p in sweep.points:
            print(f"# point {p.id}: {' '.join('--set ' + s for s in p.sets) or '(the base config)'}")
        return EXIT_OK
    if args.defaults or args.sets:
        config = load_config(args.name, sets=args.sets)
        head = f"# {config.name}: {config.source}" + "".join(f" --set {s}" for s in config.overrides)
        if args.defaults:
            print(f"{head}\n# normalised (every default filled in); sha256 {config.sha256()}")
            print(config.to_toml(), end="")
            return EXIT_OK
        print(f"{head}\n# with the --set overrides applied; add --defaults to fill in every default")
        print(tomli_w.dumps(config_table(args.name, args.sets)), end="")
        return EXIT_OK
    text, _ = config_text(args.name)
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_OK


def _drop_empty(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v not in ([], {})}


def cmd_methods(args) -> int:
    from harness.registry import METHODS

    return _list_plugins(METHODS.entries(), args.json, with_kind=False)


def cmd_plugins(args) -> int:
    from harness.registry import KINDS

    infos = [i for kind, reg in KINDS.items() if args.kind in (None, kind) for i in reg.entries()]
    return _list_plugins(infos, args.json, with_kind=True)


def cmd_report(args) -> int:
    from harness_reports import rerender

    if args.force and args.out is not None:
        from harness_reports.rundir import RunDirectoryError

        raise RunDirectoryError("--force writes inside the run directory and --out elsewhere: give one of them")
    if _is_sweep_dir(args.run_dir):  # a sweep directory: its robustness map again
        from harness_reports.sensitivity import rerender_sensitivity

        print(f"robustness map: {rerender_sensitivity(args.run_dir, args.out, force=args.force)}")
        return EXIT_OK
    path = rerender(args.run_dir, args.out, force=args.force)
    # the analysis shown: the one recomputed beside the run if it was stale, else the run's own
    _summary(path.parent if (path.parent / "analysis.json").is_file() else args.run_dir)
    print(f"report: {path}")
    return EXIT_OK


def _is_sweep_dir(path: Path) -> bool:
    import json

    try:
        return json.loads((Path(path) / "manifest.json").read_text()).get("kind") == "sweep"
    except (OSError, ValueError, AttributeError):
        return False


def cmd_compare(args) -> int:
    from harness_reports.compare import write_comparison
    from harness_reports.terminal import print_comparison

    comparison, out = write_comparison(args.run_a, args.run_b, out_dir=args.out)
    print()
    print_comparison(comparison, report=out)
    return EXIT_OK


def cmd_reproduce(args) -> int:
    from harness_reports.reproduce import reproduce_run

    res = reproduce_run(args.run_dir, out_dir=args.out, cache_dir=args.cache_dir, tolerance=args.tolerance)
    print(res.summary())
    return EXIT_OK if res.identical else EXIT_FAILED_CELLS


COMMANDS = {
    "run": cmd_run,
    "config": cmd_config,
    "methods": cmd_methods,
    "plugins": cmd_plugins,
    "report": cmd_report,
    "compare": cmd_compare,
    "reproduce": cmd_reproduce,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
