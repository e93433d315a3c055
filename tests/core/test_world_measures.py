"""Teacher-level alignment measures (harness.world_measures) and their place in a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harness.benchmarks.base import BitextPair
from harness.world_measures import alignment_f1, bitext_digest, bitext_top1, measure


class _Batch(dict):
    def __init__(self, ids: list[list[int]]):
        width = max(len(x) for x in ids)
        t = torch.zeros((len(ids), width), dtype=torch.long)
        m = torch.zeros((len(ids), width), dtype=torch.long)
        for r, x in enumerate(ids):
            t[r, : len(x)] = torch.tensor(x)
            m[r, : len(x)] = 1
        super().__init__(input_ids=t, attention_mask=m)
        self._words = [list(range(len(x))) + [None] * (width - len(x)) for x in ids]

    def word_ids(self, b: int) -> list[int | None]:
        return self._words[b]


class OracleEncoder:
    """One token per word; a word's vector is the one-hot of its concept (zero for function words), so
    the argmax alignment is the truth; ``noise`` mixes in random vectors."""

    max_length = 64
    device = torch.device("cpu")

    def __init__(self, concept_of: dict[str, int], dim: int, noise: float = 0.0, seed: int = 0):
        self.concept_of, self.dim = concept_of, dim
        self.random = torch.from_numpy(np.random.default_rng(seed).normal(size=(dim + 1, dim))).float()
        self.noise = noise

    def tokenizer(self, words, **_kw):
        return _Batch([[self.concept_of.get(w, -1) + 1 for w in ws] for ws in words])

    def token_embeddings(self, feats, layer=-1):
        ids = feats["input_ids"]  # (B, L)
        onehot = torch.nn.functional.one_hot(ids, self.dim + 1)[..., 1:].float()  # (B, L, dim); id 0 -> zeros
        return onehot + self.noise * self.random[ids] * (ids > 0).unsqueeze(-1)

    def encode(self, texts):
        out = []
        for t in texts:
            v = torch.zeros(self.dim)
            for w in t.split():
                if w in self.concept_of:
                    v[self.concept_of[w]] += 1
            out.append(v + self.noise * self.random[1 + len(t) % self.dim])
        return torch.stack(out)


def _pairs() -> tuple[list[BitextPair], dict[str, int]]:
    concept_of = {"water": 0, "maji": 0, "fire": 1, "moto": 1, "tree": 2, "mti": 2, "sky": 3, "anga": 3}
    pairs = [
        BitextPair("the water fire", "moto na maji", ((1, 2), (2, 0))),
        BitextPair("tree of sky", "anga mti", ((0, 1), (2, 0))),
        BitextPair("sky water", "maji ya anga", ((0, 2), (1, 0))),
    ]
    return pairs, concept_of


def test_oracle_word_vectors_recover_the_true_alignment_exactly():
    pairs, concept_of = _pairs()
    p, r, f1 = alignment_f1(OracleEncoder(concept_of, 4), pairs)
    assert (p, r, f1) == (1.0, 1.0, 1.0)


def test_a_wrong_alignment_scores_below_one():
    pairs, concept_of = _pairs()
    wrong = [
        BitextPair(x.pivot, x.other, tuple((i, (j + 1) % len(x.other.split())) for i, j in x.alignment or ()))
        for x in pairs
    ]
    p, r, f1 = alignment_f1(OracleEncoder(concept_of, 4), wrong)
    assert f1 < 0.5 and p == r  # the same number of predicted and true links, few of them right


def test_bitext_top1_counts_own_translation_first():
    pairs, concept_of = _pairs()
    assert bitext_top1(OracleEncoder(concept_of, 4), pairs) == 1.0
    swapped = [BitextPair(pairs[0].pivot, pairs[1].other), BitextPair(pairs[1].pivot, pairs[0].other), pairs[2]]
    assert bitext_top1(OracleEncoder(concept_of, 4), swapped) == pytest.approx(1 / 3)


def test_measure_rows_and_digest():
    pairs, concept_of = _pairs()
    rows = measure(OracleEncoder(concept_of, 4), {"sw": pairs, "yo": []}, {"sw": "low", "yo": "low"})
    assert [r.language for r in rows] == ["sw"]
    assert rows[0].bitext_top1 == 1.0 and rows[0].alignment_f1 == 1.0 and rows[0].chance == pytest.approx(1 / 3, 1e-5)
    no_truth = [BitextPair(x.pivot, x.other) for x in pairs]
    (row,) = measure(OracleEncoder(concept_of, 4), {"sw": no_truth}, {"sw": "low"})
    assert row.alignment_f1 is None and row.bitext_top1 == 1.0
    assert bitext_digest(pairs) != bitext_digest(no_truth)


def test_a_run_records_the_measures_in_manifest_analysis_and_report(tiny_run, tiny_cfg):
    """A tiny end-to-end run (conftest's ``tiny_run``): the manifest and analysis.json carry the measures;
    the report shows the table; the stage is cached (a second computation reads it back)."""
    from harness.config import load_config
    from harness.engine import Engine

    cfg = load_config(tiny_cfg)
    result, cache = tiny_run
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    analysis = json.loads((result.run_dir / "analysis.json").read_text())
    wm = manifest["world_measures"]
    assert analysis["world_measures"] == wm
    langs = {r["language"]: r for r in wm["languages"]}
    assert sorted(langs) == ["h1", "l1", "l2"]  # every language but the pivot
    for r in langs.values():
        assert r["pairs"] == 1000 and r["chance"] == 0.001
        assert 0.0 <= r["bitext_top1"] <= 1.0 and 0.0 <= r["alignment_f1"] <= 1.0
    html = (result.run_dir / "report.html").read_text()
    assert 'id="alignment-table"' in html and "bitext top-1" in html
    again = Engine(cfg, cache).world_measures()
    assert again == wm
    assert any(p.name.startswith("world-measures") or "world-measures" in str(p) for p in cache.root.iterdir())


def test_setup_rows_format_the_measures_and_old_manifests_have_none():
    from harness_reports.setup import alignment_rows

    assert alignment_rows({}) is None  # a run written before the measures existed renders as before
    wm = {
        "teacher_seed": 0,
        "source": "held-out measurement bitext",
        "layer": -1,
        "languages": [
            {
                "language": "sw",
                "tier": "low",
                "pairs": 1000,
                "bitext_top1": 0.0123,
                "chance": 0.001,
                "alignment_precision": 0.5,
                "alignment_recall": 0.25,
                "alignment_f1": 1 / 3,
            },
            {
                "language": "xx",
                "tier": "low",
                "pairs": 10,
                "bitext_top1": 0.5,
                "chance": 0.1,
                "alignment_precision": None,
                "alignment_recall": None,
                "alignment_f1": None,
            },
        ],
    }
    out = alignment_rows({"world_measures": wm})
    assert out is not None and out["seed"] == 0
    sw, xx = out["rows"]
    assert (sw["top1"], sw["chance"], sw["f1"]) == ("1.2 %", "0.1 %", "0.333")
    assert xx["f1"] == "n/a"
