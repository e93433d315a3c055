"""The README's picture of a report's headline, regenerated from a real run.

    python docs/screenshot.py                     # runs `harness run smoke` into a temporary directory
    python docs/screenshot.py --run-dir RUN_DIR   # an existing run directory instead
    python docs/screenshot.py --config default    # another shipped config (or a TOML path)

It copies the run's ``report.html`` to a temporary directory, adds one style rule that hides
the table of contents and every section after the headline (nothing else changes: the
numbers, the verdict and the figure are the report's own), opens it in headless Chromium
(Debian's ``chromium``: ``apt-get install -y chromium``) with its ``--screenshot`` option,
trims the white margin below the content (Pillow) and writes
``docs/_static/report-headline.png``.  Without ``--run-dir`` it uses ``$HARNESS_CACHE`` if
set, else a temporary cache (about a minute on 2 cores for ``smoke``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_static" / "report-headline.png"
#: Chromium's flags: headless, no sandbox (containers run as root), nothing fetched or updated.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
)
#: Shows the page's header, its banners and the headline section only.
HEADLINE_ONLY = (
    "<style>nav.toc, body > section:not(#headline), body > footer, #headline details, #analysis-warnings"
    " { display: none !important; }</style>"
)


def headline_only(html: str) -> str:
    """``html`` with :data:`HEADLINE_ONLY` added at the end of its ``<head>``."""
    if "</head>" not in html or 'id="headline"' not in html:
        raise SystemExit("not a harness report: no </head> or no headline section")
    return html.replace("</head>", HEADLINE_ONLY + "</head>", 1)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("headless Chromium not found: apt-get install -y chromium")


def make_run(config: str, work: Path) -> Path:
    """``harness run CONFIG`` into ``work/run`` (cache: ``$HARNESS_CACHE`` or ``work/cache``)."""
    run_dir = work / "run"
    cache = os.environ.get("HARNESS_CACHE") or str(work / "cache")
    cmd = [sys.executable, "-m", "harness.cli", "run", config, "--out", str(run_dir), "--cache-dir", cache, "--quiet"]
    subprocess.run(cmd, check=True)
    return run_dir


def trim(png: Path, margin: int = 16) -> None:
    """Crop the white rows below (and columns right of) the content, keeping ``margin`` pixels."""
    from PIL import Image, ImageChops

    img = Image.open(png).convert("RGB")
    bbox = ImageChops.difference(img, Image.new("RGB", img.size, (255, 255, 255))).getbbox()
    if bbox is None:
        raise SystemExit(f"{png}: the screenshot is blank")
    img.crop((0, 0, min(img.width, bbox[2] + margin), min(img.height, bbox[3] + margin))).save(png, optimize=True)


def screenshot(report: Path, out: Path, width: int = 1000, height: int = 1400) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(headline_only(report.read_text(encoding="utf-8")), encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        if not shot.exists():
            raise SystemExit("Chromium wrote no screenshot")
        trim(shot)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, help="a finished run directory (default: run --config first)")
    ap.add_argument("--config", default="smoke", help="config to run when no --run-dir is given (default: smoke)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"PNG to write (default: {OUT.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        run_dir = args.run_dir or make_run(args.config, Path(work))
        report = run_dir / "report.html"
        if not report.is_file():
            raise SystemExit(f"{run_dir}: no report.html (a finished `harness run` directory?)")
        print(f"wrote {screenshot(report, args.out)} from {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
