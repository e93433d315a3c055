"""The comparison protocol: choose each method's options and budget on dev, report on test.

A *method* of the headline is a ``[methods.<group>]`` table.  Its *candidates* are the
variants its ``sweep`` expands into and, for methods that evaluate checkpoints
(``eval_at``), each checkpoint budget of each variant.  The rule (Dodge et al. 2019, "Show
Your Work": equal tuning effort per method, tuned on held-out data):

* every candidate is scored on the benchmark's **dev** queries only: the primary metric
  averaged over queries within a language, then over languages, then over seeds
  (``score = mean_s mean_l mean_q m(s, l, q)``): the same criterion for every method, blind
  to tiers, so no method is tuned towards the question's answer;
* the candidate with the highest dev score is chosen (ties: the first in grid order, i.e.
  the smaller budget and the earlier sweep value);
* the headline analysis (the question, every pairwise test, every table) is computed on the
  **test** queries of the chosen candidates, each renamed to its method's name; dev
  queries never enter it.

Each method's grid size (number of candidates) is reported; when the methods the question
compares had grids of different sizes, a warning says that their tuning effort differed.
Without a dev split every method keeps its configured options and final budget.

**No training as a candidate** (``[question] untrained_candidate = true``): every method
with checkpoint budgets also gets the candidate "0 steps", the untrained teacher (the
results of the config's ``zero-shot`` method, which applies the seed's teacher unchanged;
a student starts from it).  It joins every such grid alike, so the dev rule may choose
"no training" for any method, and the grids stay equal in size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Candidate", "Selection", "select_on_dev", "tuned_results"]

BUDGET_COLUMNS = ("split", "budget_steps", "budget_examples", "budget_seconds")


@dataclass(frozen=True)
class Candidate:
    method: str  # the variant's name (results.parquet); the teacher's method for the untrained candidate
    steps: int | None  # checkpoint budget (0: untrained, the teacher), or None for the variant's final result
    dev_score: float | None


@dataclass(frozen=True)
class Selection:
    group: str
    chosen: Candidate
    candidates: tuple[Candidate, ...]
    swept: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "chosen": asdict(self.chosen),
            "grid_size": len(self.candidates),
            "candidates": [asdict(c) for c in self.candidates],
            "swept": self.swept,
        }


def _score(df: pd.DataFrame, metric: str) -> float | None:
    d = df[df.metric == metric]
    if d.empty:
        return None
    per_lang = d.groupby(["seed", "language"]).value.mean()
    return float(per_lang.groupby(level="seed").mean().mean())


def select_on_dev(config: Any, dev: pd.DataFrame | None, budgets: pd.DataFrame | None) -> dict[str, Selection]:
    """Choose one candidate per method group on dev (see the module docstring)."""
    metric = config.analysis.primary_metric
    question = getattr(config, "question", None)
    teacher = (
        next((e.name for e in config.methods if e.plugin == "zero-shot"), None)
        if question is not None and question.untrained_candidate
        else None
    )
    groups: dict[str, list[Any]] = {}
    for entry in config.methods:
        groups.setdefault(entry.group or entry.name, []).append(entry)
    out: dict[str, Selection] = {}
    for group, entries in groups.items():
        cands: list[Candidate] = []
        has_checkpoints = (
            budgets is not None and "split" in budgets and bool(budgets.method.isin([e.name for e in entries]).any())
        )
        if teacher is not None and has_checkpoints:  # budget 0: the untrained teacher, first in grid order
            cands.append(Candidate(teacher, 0, _score(dev[dev.method == teacher], metric) if dev is not None else None))
        for e in entries:
            if budgets is not None and "split" in budgets:
                ck = budgets[(budgets.method == e.name) & (budgets.split == "dev")]
                final_steps = ck.budget_steps.max() if not ck.empty else None
                for b in sorted(ck.budget_steps.unique()):
                    if b != final_steps:
                        cands.append(Candidate(e.name, int(b), _score(ck[ck.budget_steps == b], metric)))
            cands.append(
                Candidate(e.name, None, _score(dev[dev.method == e.name], metric) if dev is not None else None)
            )
        scored = [c for c in cands if c.dev_score is not None]
        chosen = max(scored, key=lambda c: c.dev_score or 0.0) if scored else cands[-1]  # max keeps the first of ties
        entry = next((e for e in entries if e.name == chosen.method), None)
        out[group] = Selection(group, chosen, tuple(cands), dict(entry.swept) if entry is not None else {})
    return out


def tuned_results(
    results: pd.DataFrame, budgets: pd.DataFrame | None, selections: dict[str, Selection]
) -> pd.DataFrame:
    """Test rows of each group's chosen candidate, renamed to the group (the headline table)."""
    frames = []
    for group, sel in selections.items():
        c = sel.chosen
        if c.steps is None or c.steps == 0:  # the final result, or the untrained teacher's results
            rows = results[results.method == c.method]
        else:
            assert budgets is not None
            rows = budgets[(budgets.method == c.method) & (budgets.split == "test") & (budgets.budget_steps == c.steps)]
            rows = rows.drop(columns=[k for k in BUDGET_COLUMNS if k in rows])
        frames.append(rows.assign(method=group))
    if not frames:
        return results.iloc[:0]
    return pd.concat(frames, ignore_index=True)[list(results.columns)]


def protocol_summary(
    config: Any,
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
