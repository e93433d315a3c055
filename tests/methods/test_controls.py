"""The token-granularity arms and the positive controls: ot-oracle, token-contrastive, planted-effect."""

from __future__ import annotations

import pytest
import torch

from harness.errors import ConfigError
from harness_methods._tokens import oracle_plans, word_ids
from harness_methods.token_contrastive import word_alignment_loss


# ------------------------------------------------------------------ token-contrastive objective
def _pairs(B=3, n=5, H=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(B, n, H, generator=g)
    mask = torch.ones(B, n)
    return t, mask


def test_word_alignment_loss_is_low_for_translations_and_high_for_shuffles():
    t, mask = _pairs()
    perm = torch.tensor([3, 0, 4, 1, 2])
    s = t[:, perm] + 0.01 * torch.randn_like(t)  # each pair: a permutation of its translation's tokens
    aligned = word_alignment_loss(t, mask, s, mask, temperature=0.05)
    shuffled = word_alignment_loss(t, mask, s.roll(1, dims=0), mask, temperature=0.05)  # wrong pair's tokens
    assert float(aligned) < 0.05
    assert float(shuffled) > 0.9
    assert 0.0 <= float(aligned) <= 1.0 and 0.0 <= float(shuffled) <= 1.0


def test_word_alignment_loss_ignores_padding_and_trains_the_student_only():
    t, mask = _pairs(B=2, n=6)
    s = t.clone().requires_grad_(True)
    t_mask = mask.clone()
    t_mask[1, 4:] = 0
    s_mask = t_mask.clone()
    base = word_alignment_loss(t, t_mask, s, s_mask, temperature=0.05)
    t2 = t.clone()
    t2[1, 4:] = 100.0  # padding content must not matter
    s2 = s.detach().clone()
    s2[1, 4:] = -100.0
    again = word_alignment_loss(t2, t_mask, s2, s_mask, temperature=0.05)
    torch.testing.assert_close(base.detach(), again, atol=1e-6, rtol=0)
    base.backward()
    assert s.grad is not None and float(s.grad.abs().sum()) > 0


# ------------------------------------------------------------------ oracle plans
def test_oracle_plans_put_unit_mass_on_aligned_token_pairs():
    # pivot words: 0 1 2 (word 1 has two tokens); other words: 0 1 (word 0 has two tokens)
    p_words = [[-1, 0, 1, 1, 2, -1]]
    o_words = [[-1, 0, 0, 1, -1]]
    p_mask = torch.tensor([[0, 1, 1, 1, 1, 0]], dtype=torch.float32)
    o_mask = torch.tensor([[0, 1, 1, 1, 0]], dtype=torch.float32)
    plans, empty = oracle_plans([((1, 0), (2, 1))], p_words, o_words, p_mask, o_mask)
    assert empty == 0
    assert plans.shape == (1, 6, 5)
    assert float(plans.sum()) == pytest.approx(1.0)
    # (1, 0): 2 x 2 token pairs share 1/2; (2, 1): one token pair gets 1/2
    assert float(plans[0, 2, 1]) == pytest.approx(0.125)
    assert float(plans[0, 3, 2]) == pytest.approx(0.125)
    assert float(plans[0, 4, 3]) == pytest.approx(0.5)
    assert float(plans[0, 1].sum()) == 0.0  # pivot word 0 is unaligned (a function word)


def test_oracle_plans_count_pairs_without_alignment():
    mask = torch.ones(2, 3)
    words = [[0, 1, 2], [0, 1, 2]]
    plans, empty = oracle_plans([None, ((5, 5),)], words, words, mask, mask)  # none; one truncated away
    assert empty == 2 and float(plans.sum()) == 0.0


def test_word_ids_match_the_encoder_tokenisation(tiny_world):
    teacher = tiny_world.teacher(0)
    texts = [p.other for p in tiny_world.benchmark.bitext("l1")[:4]]
    feats = teacher.tokenize(texts, 48)
    ids = word_ids(teacher.tokenizer, texts, 48, feats["input_ids"].shape[1])
    for b, text in enumerate(texts):
        real = int(feats["attention_mask"][b].sum())
        words = [w for w in ids[b][:real] if w >= 0]
        assert words == sorted(words) and max(words) == len(text.split()) - 1
        assert all(w == -1 for w in ids[b][real:])


# ------------------------------------------------------------------ refusals before any training
def test_ot_oracle_is_refused_on_bitext_without_alignments(tiny_world, monkeypatch):
    from harness.benchmarks.base import BitextPair
    from harness_methods.ot_oracle import OTOracle

    ctx = tiny_world.ctx("ot-oracle", 0)
    plain = {lang: [BitextPair(p.pivot, p.other) for p in ctx.benchmark.bitext(lang)] for lang in ctx.benchmark.tiers}
    monkeypatch.setattr(ctx.benchmark, "bitext", lambda lang: plain[lang])
    trained = []
    monkeypatch.setattr("harness_methods.ot_oracle.fit_alignment", lambda *a, **k: trained.append(1))
    with pytest.raises(ConfigError, match="true word alignments"):
        OTOracle({"steps": 2}).fit(ctx)
    assert not trained


def test_ot_oracle_refuses_the_shuffled_control(tiny_world):
    from harness_methods.ot_oracle import OTOracle

    with pytest.raises(ConfigError, match="shuffle_bitext"):
        OTOracle({"steps": 2, "shuffle_bitext": True}).fit(tiny_world.ctx("ot-oracle", 0))


def test_planted_effect_is_refused_without_query_translations(tiny_world, monkeypatch):
    import dataclasses

    from harness_methods.planted_effect import PlantedEffect

    bench = tiny_world.benchmark
    real = bench.language_data

    def no_translations(lang, split="test"):
        data = real(lang, split)
        return dataclasses.replace(data, query_translations=None) if hasattr(data, "query_translations") else data

    monkeypatch.setattr(bench, "language_data", no_translations)
    with pytest.raises(ConfigError, match="true translation"):
        PlantedEffect({"share": 0.5}).fit(tiny_world.ctx("planted-effect", 0))


def test_planted_effect_rejects_unknown_tiers(tiny_world):
    from harness_methods.planted_effect import PlantedEffect

    with pytest.raises(ConfigError, match="tiers"):
        PlantedEffect({"tiers": ["lowest"]}).fit(tiny_world.ctx("planted-effect", 0))
