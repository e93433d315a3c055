"""What a researcher sees in a terminal (a pseudo-terminal, as a user's shell gives) and in a log file.

* ``harness --version``;
* ``harness report DIR`` ends with the question, the verdict and a table of tier means;
* a cold ``harness run`` (empty harness cache, empty numba cache) on a terminal: no third-party
  warnings, each log line on its own line (never glued to a progress bar), the stages named,
  the summary at the end; in a pipe (a log file): the stages named too.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_pty(argv: list[str], env: dict[str, str], timeout: float, columns: int = 100) -> tuple[int, str]:
    """Run ``argv`` with stdin/stdout/stderr on a pseudo-terminal of ``columns``; return (exit code, output)."""
    import pty

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise TimeoutError(
                    f"{argv} ran past {timeout} s; output so far:\n" + b"".join(chunks).decode(errors="replace")
                )
            ready, _, _ = select.select([master], [], [], min(left, 1.0))
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", errors="replace")


def harness_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(extra)
    return env


def test_version():
    from importlib import metadata

    out = subprocess.run(harness_cmd("--version"), capture_output=True, text=True, check=True).stdout
    assert out.startswith(f"harness {metadata.version('xling-harness')} (xling-harness, Python ")


def test_report_ends_with_question_verdict_and_table(tmp_path, make_results, make_run):
    from harness_reports import rerender
    from harness_reports.verdict import verdict_summary

    run = make_run(tmp_path / "run", make_results(seed=3))
    rerender(run, force=True)  # analysis.json
    analysis = json.loads((run / "analysis.json").read_text())
    code, out = run_in_pty(harness_cmd("report", str(run)), base_env(), timeout=120, columns=100)
    assert code == 0, out
    plain = ANSI.sub("", out).replace("\r\n", "\n")
    assert "\x1b[" in out  # coloured on a terminal
    v = verdict_summary(analysis)
    flat = " ".join(plain.split())
    assert f"Question: {v.question}" in flat
    assert f"Verdict: {v.lead}: {' '.join(v.body.split())}" in flat
    lines = plain.splitlines()
    head = next(i for i, line in enumerate(lines) if "high tier" in line)
    assert "low tier" in lines[head] and "vs zero-shot" in lines[head]
    body = "\n".join(lines[head:])
    for t in analysis["tier_means"]:
        if t["metric"] == "ndcg@10":
            assert f"{t['mean']:.3f}" in body
    for m in analysis["design"]["methods"]:
        assert re.search(rf"^{re.escape(m)}\s", body, re.M), m
    assert all(len(line) <= 100 for line in lines), "the table must fit the terminal"
    assert f"report: {tmp_path.resolve() / 'run-report' / 'report.html'}" in plain  # beside the run


# ----------------------------------------------------------------------------- a cold run
def tiny_config(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("tiny_config", Path(__file__).parents[1] / "core" / "tiny_config.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    path.write_text(mod.TINY.format(extra="[methods.ot-distill]\nsteps = 4\n[methods.contrastive]\nsteps = 4\n"))
    return path


def assert_no_raw_warnings(text: str) -> None:
    """No warning in Python's default format (file:line: Category: message + source line), none from numba."""
    assert not re.search(r"\.py:\d+: \w*Warning", text), "a raw warning leaked into the output"
    assert "Numba" not in text and "unsafe cast" not in text
    for line in text.splitlines():
        if "warning" in line.lower():
            assert ANSI.sub("", line).strip().startswith("warning: "), line


STAGES = (
    "benchmark synthetic: loading",
    "base encoder (tokenizer + MLM pre-training",
    "teacher for seed 0",
    "teacher for seed 1",
)


def check_stage_order(text: str) -> None:
    at = [text.index(s) for s in STAGES]
    assert at == sorted(at), at
    first_cell = text.index("cell zero-shot/seed=0: done")
    assert at[2] < first_cell < at[3]


@pytest.mark.slow
def test_cold_run_on_a_terminal(tmp_path):
    cfg = tiny_config(tmp_path / "tiny.toml")
    env = base_env(HARNESS_CACHE=str(tmp_path / "cache"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    code, out = run_in_pty(harness_cmd("run", str(cfg), "--out", str(tmp_path / "run")), env, timeout=600)
    assert code == 0, out
    assert_no_raw_warnings(out)
    # every log line starts a line of its own: after a bar is cleared (\r) or after a newline, never glued to a bar
    segments = [ANSI.sub("", s) for s in re.split(r"[\r\n]", out)]
    for s in segments:
        if "seed=" in s and ": done in" in s:
            assert s.startswith("cell "), f"log line glued to another line: {s!r}"
    text = "\n".join(segments)
    check_stage_order(text)
    assert "mlm-pretraining (seed" not in text  # the base encoder is shared by all seeds
    assert "Question: Does ot-distill reduce the ndcg@10 gap" in text and "Verdict: " in text
    assert re.search(r"^ot-distill\s+0\.\d{3}", text, re.M)
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.slow
def test_cold_run_in_a_log_file(tmp_path):
    cfg = tiny_config(tmp_path / "tiny.toml")
    env = base_env(HARNESS_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        harness_cmd("run", str(cfg), "--out", str(tmp_path / "run")),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stdout + proc.stderr  # no bars, no colours in a file
    check_stage_order(proc.stderr)
    assert "cell ot-distill/seed=0: running" in proc.stderr
    assert_no_raw_warnings(proc.stderr)
    assert proc.stdout.lstrip().startswith("Question: ")
    assert "status: complete" in proc.stdout


def test_warnings_are_one_log_line(capsys):
    from harness.cache import CacheCorruptWarning
    from harness.cli import _show_warning

    _show_warning(
        CacheCorruptWarning("cache entry teacher/ab12 is corrupt; recomputing it"),
        CacheCorruptWarning,
        "/site/harness/cache.py",
        130,
    )
    _show_warning(RuntimeWarning("overflow"), RuntimeWarning, "/site/numpy/core/fromnumeric.py", 88)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "warning: cache entry teacher/ab12 is corrupt; recomputing it",
        "warning: overflow (RuntimeWarning from core/fromnumeric.py:88)",
    ]
