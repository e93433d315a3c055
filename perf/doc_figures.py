"""The documentation's run figures, regenerated from a run directory (so they cannot drift by hand).

    python perf/doc_figures.py RUN_DIR                # RUN_DIR: a finished default `harness run`
    python perf/doc_figures.py --full RUN_DIR         # RUN_DIR: a finished `harness run full`
    python perf/doc_figures.py --science RUN_DIR      # RUN_DIR: a finished `harness run science`
    python perf/doc_figures.py --sensitivity SWEEP_DIR  # SWEEP_DIR: a finished `harness run sensitivity`
    python perf/doc_figures.py --check                # exit 1 if docs/results.md differs from the stored figures

From ``RUN_DIR/analysis.json`` and ``manifest.json`` it writes ``perf/results/default_run.json``
(the few numbers the docs quote: tier means per method, per-seed tier means of the question's
methods, their gaps and gap reductions, D with its interval and the verdict) and rewrites the block of ``docs/results.md`` between
``<!-- default-run:begin -->`` and ``<!-- default-run:end -->``.  The verdict sentence is the
one the report and the terminal show (:func:`reports.verdict.verdict_summary`).  With ``--full`` it
does the same for the full-size study (``perf/results/full_run.json``, the ``full-run``
block).  The stored full run was made when that config was still named ``default``; its stored
``renamed_from`` (the name and description it had) lets ``--check`` confirm that ``full.toml`` is
otherwise the config the run used; its ``predates`` names options added since, at the value the
run used implicitly (:func:`config_sha`).
With ``--science`` it does the same for the science run (``perf/results/science_run.json``,
the block between ``<!-- science-run:begin -->`` and ``<!-- science-run:end -->``): per mode, each
method's and control's tier means, its low-tier difference from the zero-shot teacher, the budget
chosen on dev, the verdict, and one computed sentence per alignment method putting its low-tier
gain beside its controls' (same plugin with shuffled bitext, with alignment weight 0, and the
per-language centring of the teacher).
With ``--sensitivity`` it writes ``perf/results/sensitivity_run.json`` (per grid point: its settings,
the verdict, D with the interval that decided it, the low-tier gains; the sweep's time) and the block
between ``<!-- sensitivity-run:begin -->`` and ``<!-- sensitivity-run:end -->``.
``tests/reports/test_doc_figures.py`` fails when a block of ``docs/results.md`` and its stored figures
differ, and when the terminal example of ``docs/statistics.md`` quotes a number the stored default run
does not hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results.md"
#: The page with the terminal summary example (its numbers must be the stored default run's).
STATS_DOC = ROOT / "docs" / "statistics.md"
STORED = ROOT / "perf" / "results" / "default_run.json"
BEGIN, END = "<!-- default-run:begin -->", "<!-- default-run:end -->"
FULL = ROOT / "perf" / "results" / "full_run.json"
FULL_BEGIN, FULL_END = "<!-- full-run:begin -->", "<!-- full-run:end -->"
#: kind -> (stored figures, block markers, how the page names the run)
RUNS = {
    "default": (STORED, (BEGIN, END), "the default run"),
    "full": (FULL, (FULL_BEGIN, FULL_END), "the full run, `harness run full`"),
}
SCIENCE = ROOT / "perf" / "results" / "science_run.json"
SCI_BEGIN, SCI_END = "<!-- science-run:begin -->", "<!-- science-run:end -->"
SENSITIVITY = ROOT / "perf" / "results" / "sensitivity_run.json"
SENS_BEGIN, SENS_END = "<!-- sensitivity-run:begin -->", "<!-- sensitivity-run:end -->"


#: The fields of ``analysis["question"]`` the blocks quote.
QUESTION_KEYS = (
    "metric",
    "endpoint",
    "methods",
    "verdict",
    "degenerate",
    "reason",
    "difference",
    "per_method",
    "decisive_interval",
    "low_tier_gain",
    "excluded_languages",
)


def finished_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(analysis.json, manifest.json)`` of a run directory whose every cell is done (else exit)."""
    analysis = json.loads((run_dir / "analysis.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    unfinished = [f"{c['method']}/seed={c['seed']}" for c in manifest.get("cells", []) if c.get("status") != "done"]
    if unfinished or not manifest.get("cells"):
        raise SystemExit(
            f"{run_dir}: cells not finished: {', '.join(unfinished) or 'none recorded'}; finish the run first"
        )
    return analysis, manifest


def primary_tier_means(a: dict[str, Any]) -> list[dict[str, Any]]:
    pm = a["design"]["primary_metric"]
    return [{k: t[k] for k in ("method", "tier", "mean", "ci")} for t in a["tier_means"] if t["metric"] == pm]


def environment(manifest: dict[str, Any]) -> str | None:
    """The one-line numerics environment a figure came from (``manifest["numerics"]["summary"]``).

    None for a run made before manifests recorded it; a README block quoting a figure names it,
    e.g. "measured on: CPU AMD EPYC (avx512), torch 2.13.0+cpu CPU capability AVX512, ...".
    """
    return (manifest.get("numerics") or {}).get("summary")


def extract(run_dir: Path) -> dict[str, Any]:
    """The page's figures from a run directory (plain JSON data)."""
    analysis, manifest = finished_run(run_dir)
    pm = analysis["design"]["primary_metric"]
    q = analysis["question"]
    return {
        "run": {
            "name": manifest["name"],
            "config_sha256": manifest["config_sha256"],
            "finished": manifest.get("finished") or manifest["started"],
            "seeds": manifest["seeds"],
            "harness_version": manifest.get("harness_version"),
            "environment": environment(manifest),
        },
        "design": {
            "primary_metric": pm,
            "methods": analysis["design"]["methods"],
            "n_queries": analysis["design"]["n_queries"][pm],
        },
        "options": {
            k: analysis["options"][k] for k in ("target_difference", "ci_level", "alpha", "high_tier", "low_tier")
        },
        "tier_means": primary_tier_means(analysis),
        "per_method": [
            {
                "method": s["method"],
                "role": s["role"],
                **{
                    k: {"estimate": s[k]["estimate"], "ci": s[k]["ci"]} if s.get(k) else None
                    for k in ("gap", "gap_reduction_vs_baseline", "high_mean", "low_mean")
                },
            }
            for s in q["per_method"]
        ],
        "question": {k: q[k] for k in (*QUESTION_KEYS, "per_seed") if k in q},
        # what the verdict sentence needs beyond the question: the budgets (a flip is never hidden)
        "budget_curves": {
            "points": [
                {"steps": p["steps"], "verdict": p.get("verdict")}
                for p in (analysis.get("budget_curves") or {}).get("points") or ()
                if "steps" in p
            ]
        },
        "protocol": {
            "selections": {
                m: {"chosen": {"steps": (sel.get("chosen") or {}).get("steps")}}
                for m, sel in ((analysis.get("protocol") or {}).get("selections") or {}).items()
            }
        },
        "worlds": analysis.get("worlds") or {"n": 1, "kind": "fixed", "labels": []},
    }


def _f(x: float) -> str:
    """The pages' style: three decimals without the leading zero (.653, -.007)."""
    s = f"{x:.3f}"
    return s.replace("0.", ".", 1) if abs(x) < 1 else s


def _flag(kind: str) -> str:
    """The option of this script that regenerates ``kind``'s block (empty for the default run)."""
    return "" if kind == "default" else f"--{kind} "


def _generic_roles(q: dict[str, Any]) -> dict[str, Any]:
    """``q`` with the question's generic role names (stored runs of schema 2 say ``ot`` / ``contrastive``)."""
    from harness_reports.verdict import question_of

    return question_of({"question": q})


def superseded_note(fig: dict[str, Any], kind: str) -> list[str]:
    """The warning a block carries when its stored run predates changes that move its numbers.

    ``fig["run"]["superseded"]`` (set by hand when the harness changes and the run cannot be
    repeated yet): ``{"since": date, "by": what changed}``.  Such figures stay on the page as
    the record of that run, never as what ``harness run KIND`` gives today.
    """
    sup = fig["run"].get("superseded")
    if not sup:
        return []
    return [
        "",
        f"**Superseded (since {sup['since']}):** these figures are the record of an earlier version ({sup['by']}); "
        f"`harness run {kind}` gives other numbers today and has not been re-run since. Do not cite them as the "
        "current answer.",
    ]


def render(fig: dict[str, Any], kind: str = "default") -> str:
    """The block (markdown) for the stored figures of the ``default`` or ``full`` run."""
    sys.path.insert(0, str(ROOT))
    from harness_reports.verdict import verdict_summary

    pm, opts, q = fig["design"]["primary_metric"], fig["options"], fig["question"]
    hi, lo = opts["high_tier"], opts["low_tier"]
    methods = fig["design"]["methods"]
    means = {(t["method"], t["tier"]): t["mean"] for t in fig["tier_means"]}
    k = int((fig.get("worlds") or {}).get("n") or 1)
    nq = sorted(set(fig["design"]["n_queries"].values()))
    queries = f"{nq[0]:,}" if len(nq) == 1 else f"{nq[0]:,}-{nq[-1]:,}"
    n_seeds = len(fig["run"]["seeds"])
    design = (
        f"{k} drawn worlds x {n_seeds} seed{'s' if n_seeds > 1 else ''}, {queries} queries per language over the worlds"
        if k > 1
        else f"{n_seeds} seeds, {queries} queries per language"
    )
    _, (begin, end), what = RUNS[kind]
    flag = _flag(kind)
    then = (fig["run"].get("renamed_from") or {}).get("name")
    renamed = f" (when the config was named `{then}`)" if then else ""
    out = [
        begin,
        f"Tier means of {pm} in {what} ({design}; config sha256 `{fig['run']['config_sha256'][:8]}`{renamed}, finished {fig['run']['finished'][:10]}; "
        f"regenerated by `python perf/doc_figures.py {flag}RUN_DIR`):",
        *superseded_note(fig, kind),
        *(
            ["", f"Numerics environment of the run: {fig['run']['environment']}."]
            if fig["run"].get("environment")
            else []
        ),
        "",
        "| | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for tier in (hi, lo):
        out.append(f"| {tier} tier | " + " | ".join(_f(means[(m, tier)]) for m in methods) + " |")
    out.append(f"| {hi} - {lo} gap | " + " | ".join(_f(means[(m, hi)] - means[(m, lo)]) for m in methods) + " |")
    out.append("")
    q = _generic_roles(q)
    roles = [r for r in ("treatment", "comparator", "baseline") if q["methods"].get(r)]
    per_seed = {}
    for s in q["per_seed"]:
        per_seed.setdefault(s["method"], []).append(s)
    parts = []
    for r in roles:
        m = q["methods"][r]
        rows = sorted(per_seed.get(m, []), key=lambda s: s["seed"])
        parts.append(f"{m} " + " / ".join(_f(s["low_mean"]) for s in rows))
    base = q["methods"].get("baseline")
    lifts = []
    if base:
        base_low = {s["seed"]: s["low_mean"] for s in per_seed.get(base, [])}
        for r in ("treatment", "comparator"):
            m = q["methods"][r]
            rows = [s for s in per_seed.get(m, []) if s["seed"] in base_low]
            above = sum(s["low_mean"] > base_low[s["seed"]] for s in rows)
            lifts.append(f"{m} {above} of {len(rows)}")
    out.append(
        f"{lo.capitalize()}-tier means per seed (seeds {', '.join(str(s) for s in fig['run']['seeds'])}"
        + (", averaged over the worlds" if k > 1 else "")
        + "): "
        + "; ".join(parts)
        + "."
        + (f" Seeds in which the {lo} tier is above {base}'s: " + ", ".join(lifts) + "." if lifts else "")
    )
    out.append("")
    v = verdict_summary(
        {"question": q, "options": opts, "budget_curves": fig.get("budget_curves"), "protocol": fig.get("protocol")}
    )
    out.append(
        f"Verdict (`analysis.json`, in the words of the report and the terminal summary): **{v.lead}**: {v.body}"
    )
    out.append(end)
    return "\n".join(out)


def quoted_numbers(fig: dict[str, Any]) -> set[str]:
    """Every figure of the stored run as the terminal prints it (three decimals, signed or not)."""
    values = []
    for t in fig["tier_means"]:
        values += [t["mean"], *(t["ci"] or ())]
    for s in fig["per_method"]:
        for k in ("gap", "gap_reduction_vs_baseline", "high_mean", "low_mean"):
            if s.get(k):
                values += [s[k]["estimate"], *(s[k]["ci"] or ())]
    for g in (fig["question"].get("low_tier_gain") or {}).values():  # the co-primary endpoint's line
        if g and g.get("estimate") is not None:
            values += [g["estimate"], *(g.get("ci") or ())]
    means = {(t["method"], t["tier"]): t["mean"] for t in fig["tier_means"]}
    hi, lo = fig["options"]["high_tier"], fig["options"]["low_tier"]
    values += [means[(m, hi)] - means[(m, lo)] for m in fig["design"]["methods"]]
    return {f"{v:.3f}" for v in values} | {f"{v:+.3f}" for v in values}


def doc_block(text: str, begin: str = BEGIN, end: str = END) -> str:
    if begin not in text or end not in text:
        raise SystemExit(f"{DOC}: markers {begin} / {end} not found")
    return text[text.index(begin) : text.index(end) + len(end)]


def extract_science(run_dir: Path) -> dict[str, Any]:
    """The science run's figures per mode (plain JSON data)."""
    sys.path.insert(0, str(ROOT))
    from harness.modes import analyses

    analysis, manifest = finished_run(run_dir)
    methods = {
        name: {
            "plugin": m["plugin"],
            **{
                k: m["options"].get(k)
                for k in ("student_side", "shuffle_bitext", "align_weight", "recipe")
                if k in m["options"]
            },
        }
        for name, m in manifest["methods"].items()
    }
    modes = []
    for mode, a in analyses(analysis):
        assert a is not None and "error" not in a, f"{run_dir}: mode {mode}: {a and a.get('error')}"
        pm = a["design"]["primary_metric"]
        q = a["question"]
        chosen = {
            g: (s["chosen"] or {}).get("steps") for g, s in (a.get("protocol") or {}).get("selections", {}).items()
        }
        modes.append(
            {
                "mode": mode or "monolingual",
                "primary_metric": pm,
                "options": {
                    k: a["options"][k] for k in ("target_difference", "ci_level", "alpha", "high_tier", "low_tier")
                },
                "methods": a["design"]["methods"],
                "tier_means": primary_tier_means(a),
                "chosen_steps": chosen,
                "question": {k: q[k] for k in QUESTION_KEYS if k in q},
            }
        )
    return {
        "run": {
            "name": manifest["name"],
            "config_sha256": manifest["config_sha256"],
            "finished": manifest.get("finished") or manifest["started"],
            "seeds": manifest["seeds"],
            "worlds": (manifest.get("worlds") or {}).get("labels") or [],
            "seconds": manifest.get("seconds"),
            "environment": environment(manifest),
        },
        "methods": methods,
        "modes": modes,
    }


def _controls(fig: dict[str, Any], method: str) -> dict[str, str]:
    """The controls of an alignment method in the run: role -> method name."""
    ms = fig["methods"]
    plugin = ms[method]["plugin"]
    side = ms[method].get("student_side")
    out = {}
    for name, m in ms.items():
        if name == method or m["plugin"] != plugin or m.get("student_side") != side:
            continue
        if m.get("shuffle_bitext"):
            out["shuffled bitext"] = name
        elif m.get("align_weight") == 0:
            out["anchor only"] = name
    for name, m in ms.items():
        if m["plugin"] == "language-centring":
            out["per-language centring"] = name
    return out


def _design(run: dict[str, Any]) -> str:
    """'3 drawn worlds x 1 seed' (several worlds), or '3 seeds' (one benchmark instance)."""
    n_seeds, worlds = len(run["seeds"]), run.get("worlds") or []
    seeds = f"{n_seeds} seed" + ("s" if n_seeds != 1 else "")
    return f"{len(worlds)} drawn worlds x {seeds}" if len(worlds) > 1 else seeds


def render_science(fig: dict[str, Any]) -> str:
    """The block for the science run."""
    sys.path.insert(0, str(ROOT))
    from harness_reports.verdict import verdict_summary

    run = fig["run"]
    out = [
        SCI_BEGIN,
        f"`harness run science` ({_design(run)}; config sha256 `{run['config_sha256'][:8]}`, finished "
        f"{run['finished'][:10]}, {run['seconds']:.0f} s; regenerated by "
        "`python perf/doc_figures.py --science RUN_DIR`). Test queries; budgets chosen on dev.",
        *superseded_note(fig, "science"),
    ]
    for m in fig["modes"]:
        pm, opts, q = m["primary_metric"], m["options"], _generic_roles(m["question"])
        hi, lo = opts["high_tier"], opts["low_tier"]
        means = {(t["method"], t["tier"]): t["mean"] for t in m["tier_means"]}
        base = q["methods"].get("baseline")
        out += [
            "",
            f"**{m['mode']}** ({pm}):",
            "",
            f"| method | {hi} | {lo} | gap | {lo} - {base} | steps chosen on dev |",
            "|---|---|---|---|---|---|",
        ]
        for name in m["methods"]:
            h, low = means.get((name, hi)), means.get((name, lo))
            if h is None or low is None:
                continue
            diff = low - means[(base, lo)] if base and (base, lo) in means else None
            steps = m["chosen_steps"].get(name)
            out.append(
                f"| {name} | {_f(h)} | {_f(low)} | {_f(h - low)} | "
                + (f"{diff:+.3f}" if diff is not None else "")
                + f" | {steps if steps is not None else 'final'} |"
            )
        out.append("")
        if base and (base, lo) in means:
            for role in ("treatment", "comparator"):
                name = q["methods"].get(role)
                if not name or (name, lo) not in means:
                    continue
                parts = [f"{name} {means[(name, lo)] - means[(base, lo)]:+.3f}"]
                for what, c in _controls(fig, name).items():
                    if (c, lo) in means:
                        parts.append(f"{what} ({c}) {means[(c, lo)] - means[(base, lo)]:+.3f}")
                out.append(f"{lo.capitalize()}-tier difference from {base}: " + "; ".join(parts) + ".")
        v = verdict_summary({"question": q, "options": opts})
        out.append("")
        out.append(f"Verdict: **{v.lead}**: {v.body}")
    out.append(SCI_END)
    return "\n".join(out)


def config_sha(kind: str, stored: dict[str, Any]) -> str:
    """sha256 of the shipped config ``kind`` as the stored run saw it.

    ``renamed_from``: the name and description the config had then.  ``predates``: options
    added to the config schema after the run, each with the value the run used implicitly
    (``{"mini.threads": null}``: before ``mini.threads`` existed, the base encoder was trained
    with ``training.num_threads``, which ``null`` still means).  Such an option is left out of
    the hash only while today's config holds that value; any other value yields a sha that
    cannot match, so a changed config still fails ``--check``.
    """
    from harness.config import config_from_dict, load_config
    from harness.hashing import hash_json

    config = load_config(kind)
    renamed = stored["run"].get("renamed_from")
    if renamed:
        import tomllib

        data = tomllib.loads(config.to_toml())
        data.update(renamed)
        config = config_from_dict(data)
    predates = stored["run"].get("predates") or {}
    if not predates:
        return config.sha256()
    d = config.normalized()
    d.pop("output", None)  # as HarnessConfig.sha256
    d.pop("executor", None)
    for dotted, used in predates.items():
        section, _, key = dotted.partition(".")
        now = d.get(section, {}).get(key, "<absent>")
        if now != used:
            return f"({dotted} = {now!r} now; the run predates it and used {used!r})"
        del d[section][key]
    return hash_json(d)


def extract_sensitivity(sweep_dir: Path) -> dict[str, Any]:
    """The figures the sensitivity block quotes, from a finished sweep's ``sensitivity.json`` and manifest."""
    sens = json.loads((sweep_dir / "sensitivity.json").read_text())
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    if manifest.get("status") != "complete":
        raise SystemExit(f"{sweep_dir}: the sweep is {manifest.get('status')!r}, not complete")
    first = sweep_dir / sens["points"][0]["dir"] / "manifest.json"
    env = environment(json.loads(first.read_text())) if first.is_file() else None
    keep = ("id", "kind", "settings", "verdict", "D", "ci", "scope", "low_tier_gain", "seconds", "status")
    return {
        "run": {
            "name": sens["name"],
            "sweep_sha256": sens["sweep_sha256"],
            "finished": manifest.get("finished") or manifest.get("started"),
            "seconds": sens.get("seconds"),
            "worlds": sens["worlds"],
            "seeds": sens["seeds"],
            "environment": env,
        },
        "question": sens["question"],
        "target_difference": sens["target_difference"],
        "axes": sens["axes"],
        "points": [{k: p.get(k) for k in keep} for p in sens["points"]],
    }


def render_sensitivity(fig: dict[str, Any]) -> str:
    """The block for the sensitivity sweep: one row per grid point."""
    run, q = fig["run"], fig["question"]
    labels = {a["key"]: a["label"] for a in fig["axes"]}
    out = [
        SENS_BEGIN,
        f"`harness run sensitivity` ({len(fig['points'])} points x {len(run['worlds'])} drawn worlds x "
        f"{len(run['seeds'])} seed; sweep sha256 `{run['sweep_sha256'][:8]}`, finished {str(run['finished'])[:10]}, "
        f"{run['seconds']:.0f} s; regenerated by `python perf/doc_figures.py --sensitivity SWEEP_DIR`). "
        f"Treatment {q['treatment']}, comparator {q['comparator']}, baseline {q['baseline']}; D and its 95% "
        "interval over worlds (the interval that decides the verdict); the low tier's gain over the baseline.",
        "",
    ]
    if run.get("environment"):
        out += [f"Numerics environment of the run: {run['environment']}.", ""]
    out += [
        f"| point | settings | verdict | D [95% CI] | low-tier gain {q['treatment']} | low-tier gain {q['comparator']} |",
        "|---|---|---|---|---|---|",
    ]

    def gain(p: dict[str, Any], m: str) -> str:
        g = (p.get("low_tier_gain") or {}).get(m) or {}
        if g.get("estimate") is None:
            return "-"
        ci = g.get("ci")
        return f"{g['estimate']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")

    for p in fig["points"]:
        settings = ", ".join(f"{labels.get(k, k)} = {v}" for k, v in (p.get("settings") or {}).items()) or "base"
        if p.get("D") is None:
            d = "-"
        else:
            ci = p.get("ci")
            d = f"{p['D']:+.4f}" + (f" [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "")
        out.append(
            f"| {p['id']} | {settings} | {p.get('verdict') or p.get('status')} | {d} | "
            f"{gain(p, q['treatment'])} | {gain(p, q['comparator'])} |"
        )
    verdicts = sorted({str(p.get("verdict")) for p in fig["points"] if p.get("verdict")})
    out += [
        "",
        "Verdicts over the grid: "
        + ", ".join(f"{v} at {sum(1 for p in fig['points'] if p.get('verdict') == v)}" for v in verdicts)
        + f" of {len(fig['points'])} points.",
        SENS_END,
    ]
    return "\n".join(out)


def check(text: str) -> int:
    """0 if every block of ``docs/results.md`` equals its stored figures and each stored run used today's config."""
    if SCIENCE.exists() and doc_block(text, SCI_BEGIN, SCI_END) != render_science(json.loads(SCIENCE.read_text())):
        print(f"{DOC.relative_to(ROOT)}: the science block differs from {SCIENCE.relative_to(ROOT)}", file=sys.stderr)
        return 1
    if SENSITIVITY.exists() and doc_block(text, SENS_BEGIN, SENS_END) != render_sensitivity(
        json.loads(SENSITIVITY.read_text())
    ):
        print(
            f"{DOC.relative_to(ROOT)}: the sensitivity block differs from {SENSITIVITY.relative_to(ROOT)}",
            file=sys.stderr,
        )
        return 1
    for kind, (path, (begin, end), _) in RUNS.items():
        stored = json.loads(path.read_text())
        if doc_block(text, begin, end) != render(stored, kind):
            print(
                f"{DOC.relative_to(ROOT)}: the {kind}-run block differs from {path.relative_to(ROOT)}; run "
                f"`python perf/doc_figures.py {_flag(kind)}RUN_DIR` on a fresh `harness run {kind}`",
                file=sys.stderr,
            )
            return 1
        current, used = config_sha(kind, stored), stored["run"]["config_sha256"]
        if used != current and not stored["run"].get("superseded"):
            print(
                f"{DOC.relative_to(ROOT)}: the {kind}-run figures match the stored run, but it used config {used[:8]} and the "
                f"{kind} config is now {current[:8]}: regenerate from a fresh `harness run {kind}`",
                file=sys.stderr,
            )
            return 1
    print(
        f"{DOC.relative_to(ROOT)}: the default-run, full-run, science-run and sensitivity-run figures match the stored runs"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", type=Path, help="a finished default run directory")
    ap.add_argument("--check", action="store_true", help="only compare docs/results.md with the stored figures")
    ap.add_argument("--full", type=Path, metavar="RUN_DIR", help="a finished `harness run full` directory")
    ap.add_argument("--science", type=Path, metavar="RUN_DIR", help="a finished `harness run science` directory")
    ap.add_argument(
        "--sensitivity", type=Path, metavar="SWEEP_DIR", help="a finished `harness run sensitivity` directory"
    )
    args = ap.parse_args(argv)
    text = DOC.read_text()
    for source, path, (begin, end), extract_fn, render_fn, what in (
        (args.sensitivity, SENSITIVITY, (SENS_BEGIN, SENS_END), extract_sensitivity, render_sensitivity, "sensitivity"),
        (args.science, SCIENCE, (SCI_BEGIN, SCI_END), extract_science, render_science, "science"),
    ):
        if source:
            fig = extract_fn(source)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(fig, indent=1) + "\n")
            DOC.write_text(text.replace(doc_block(text, begin, end), render_fn(fig)))
            print(f"wrote {path.relative_to(ROOT)} and the {what} block of {DOC.relative_to(ROOT)} from {source}")
            return 0
    if args.check:
        return check(text)
    kind, run_dir = ("full", args.full) if args.full else ("default", args.run_dir)
    if run_dir is None:
        ap.error("give RUN_DIR (a finished default run), --full RUN_DIR, --science RUN_DIR or --check")
    path, (begin, end), _ = RUNS[kind]
    fig = extract(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fig, indent=1) + "\n")
    DOC.write_text(text.replace(doc_block(text, begin, end), render(fig, kind)))
    print(f"wrote {path.relative_to(ROOT)} and the {kind}-run block of {DOC.relative_to(ROOT)} from {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
