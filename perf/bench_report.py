"""Size and load time of a run's ``report.html`` in headless Chromium.

Opens the report of an existing run directory (e.g. the default run) in Debian's
``chromium`` driven by Playwright, ``--repeat`` times, each in a fresh page, and prints the
file size, the load time (navigation until the ``load`` event, which includes decoding the
inline figures) and the time until layout is done for a full-page screenshot, plus any
console error or network request beyond the file itself.  Issue goals: < 5 MB, < 3 s.
As a baseline measured in the same browser and run, a blank local HTML page is loaded the
same way; the ratio report/blank separates the report's own cost from the browser's
per-navigation overhead on a noisy machine.

Also re-renders the report from the stored results (``harness report``'s code path) and
times that, so a slow template shows up here too.

Run:  ``python perf/bench_report.py RUN_DIR [--repeat 5]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    report = args.run_dir / "report.html"
    if not report.is_file():
        print(f"no report at {report}: run `harness run` first (or `harness report {args.run_dir}`)", file=sys.stderr)
        return 2
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        print("no chromium on PATH (install Debian's `chromium` package)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    size = report.stat().st_size
    print(f"report: {report} ({size / 1e6:.2f} MB; goal < 5 MB)")

    # Re-render from stored results into a scratch copy (the run directory is left untouched).
    from harness_reports import rerender

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "run"
        shutil.copytree(args.run_dir, scratch, ignore=shutil.ignore_patterns("runs", ".lock"))
        t0 = time.perf_counter()
        rerender(scratch)
        render_s = time.perf_counter() - t0
    print(f"re-render from stored results (jinja2 + figures): {render_s:.2f} s")

    loads, blanks, shots, errors, extra = [], [], [], [], []
    uri = report.resolve().as_uri()
    blank_dir = tempfile.TemporaryDirectory()
    blank = Path(blank_dir.name) / "blank.html"
    blank.write_text("<!doctype html><html><head><meta charset=utf-8><title>blank</title></head><body></body></html>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, args=ARGS)
        for _ in range(args.repeat):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(blank.as_uri(), wait_until="load")
            blanks.append(time.perf_counter() - t0)
            page.close()
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: extra.append(r.url) if r.url != uri else None)
            t0 = time.perf_counter()
            page.goto(uri, wait_until="load")
            loads.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            page.screenshot(full_page=True)
            shots.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    blank_dir.cleanup()
    print(
        f"load in headless chromium: median {statistics.median(loads):.3f} s, max {max(loads):.3f} s "
        f"over {args.repeat} loads (goal < 3 s)"
    )
    print(
        f"blank page, same browser (baseline): median {statistics.median(blanks):.3f} s; "
        f"report / blank = {statistics.median(loads) / statistics.median(blanks):.1f}x"
    )
    print(f"full-page screenshot after load: median {statistics.median(shots):.3f} s")
    print(f"console errors: {len(errors)}; requests beyond the file: {len(extra)}")
    for e in errors[:5]:
        print("  error:", e)
    for u in extra[:5]:
        print("  request:", u)
    ok = size < 5e6 and max(loads) < 3.0 and not errors and not extra
    print("goals met" if ok else "goals NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
