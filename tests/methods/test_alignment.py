"""The shared alignment machinery: a fair comparison of ot-distill and contrastive."""

from __future__ import annotations

import math

import pytest
import torch

from harness.errors import ConfigError, NonFiniteLossError
from harness_methods._alignment import SHARED_FIELDS, AlignmentConfig, content_mask, fit_alignment
from harness_methods._ot import SinkhornConvergenceWarning
from harness_methods.contrastive import Contrastive, ContrastiveConfig
from harness_methods.ot_distill import OTDistill, OTDistillConfig

FAST = {"steps": 3, "batch_size": 8}


def test_both_methods_share_every_alignment_option_with_the_same_defaults():
    ot, con = OTDistillConfig(), ContrastiveConfig()
    assert set(SHARED_FIELDS) <= set(OTDistillConfig.model_fields)
    assert set(SHARED_FIELDS) <= set(ContrastiveConfig.model_fields)
    for f in SHARED_FIELDS:
        assert getattr(ot, f) == getattr(con, f) == getattr(AlignmentConfig(), f), f
    # What differs is the objective's own options only.
    ot_only = set(OTDistillConfig.model_fields) - set(SHARED_FIELDS)
    con_only = set(ContrastiveConfig.model_fields) - set(SHARED_FIELDS)
    assert ot_only == {"epsilon", "max_iter", "tol", "layer", "exclude_special_tokens", "center_tokens"}
    assert con_only == {"temperature", "symmetric", "pivot_encoder", "language_weight", "recipe"}


def test_the_data_order_does_not_depend_on_the_objective(tiny_world):
    seen: dict[str, list] = {"a": [], "b": []}

    def recorder(key, scale):
        def objective(step):
            seen[key].append((step.batch.pivot, step.batch.other, step.batch.languages))
            return scale * step.student(step.student.tokenize(step.batch.other, step.max_length)).sum() * 0

        return objective

    cfg = AlignmentConfig(**FAST)
    fit_alignment(tiny_world.ctx("ot-distill", 1), cfg, recorder("a", 1.0))
    fit_alignment(tiny_world.ctx("ot-distill", 1), cfg, recorder("b", 2.0))
    assert seen["a"] == seen["b"] and len(seen["a"]) == 3
    # Balanced sampling: the 3 batches come from 3 different languages (shuffled rounds).
    assert len({langs[0] for _, _, langs in seen["a"]}) == 3


def test_the_teacher_is_left_unchanged_and_the_student_moves(tiny_world):
    ctx = tiny_world.ctx("contrastive", 0)
    before = {k: v.clone() for k, v in ctx.teacher.state_dict().items()}
    student = Contrastive({**FAST, "lr": 1e-3}).fit(ctx)
    after = ctx.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    moved = [k for k, v in student.state_dict().items() if not torch.equal(v, before[k])]
    assert moved, "the student did not train"
    assert not any(p.requires_grad for p in student.parameters())


@pytest.mark.parametrize("anchor", ["distill-train", "distill-bitext", "retrieval", "none"])
def test_anchor_modes_train(tiny_world, anchor):
    ctx = tiny_world.ctx("ot-distill", 0)
    OTDistill({**FAST, "pivot_anchor": anchor}).fit(ctx)
    info = ctx.diagnostics
    assert info["steps"] == 3 and math.isfinite(info["final_loss"])
    assert info["sinkhorn_unconverged"] == 0 and info["sinkhorn_batches"] == 3


def test_steps_follow_epochs(tiny_world):
    ctx = tiny_world.ctx("contrastive", 0)
    Contrastive({"epochs": 0.5, "batch_size": 16}).fit(ctx)
    n_pairs = sum(len(tiny_world.benchmark.bitext(lang)) for lang in tiny_world.benchmark.languages)
    assert ctx.diagnostics["steps"] == math.ceil(0.5 * n_pairs / 16)


def test_a_non_finite_loss_names_method_seed_and_step(tiny_world):
    def bad(step):
        return step.student(step.student.tokenize(step.batch.other, step.max_length)).sum() * float("nan")

    with pytest.raises(NonFiniteLossError, match=r"method 'ot-distill', seed 2, step 0.*lower methods\.ot-distill\.lr"):
        fit_alignment(tiny_world.ctx("ot-distill", 2), AlignmentConfig(**FAST), bad)


def test_unconverged_sinkhorn_warns_once_naming_the_knobs(tiny_world):
    method = OTDistill({**FAST, "max_iter": 1, "tol": 1e-9, "epsilon": 0.01})
    ctx = tiny_world.ctx("ot-distill", 0)
    with pytest.warns(
        SinkhornConvergenceWarning,
        match=r"3 of 3 batches.*`methods\.ot-distill\.max_iter` or `methods\.ot-distill\.epsilon`",
    ) as rec:
        method.fit(ctx)
    assert len([w for w in rec if issubclass(w.category, SinkhornConvergenceWarning)]) == 1
    assert ctx.diagnostics["sinkhorn_unconverged"] == 3


def test_unknown_bitext_language_is_a_config_error(tiny_world):
    with pytest.raises(ConfigError, match=r"methods\.contrastive\.languages.*'zz'"):
        Contrastive({**FAST, "languages": ["zz"]}).fit(tiny_world.ctx("contrastive", 0))


def test_training_on_one_language_only(tiny_world):
    seen = []

    def objective(step):
        seen.extend(step.batch.languages)
        return step.student(step.student.tokenize(step.batch.other, step.max_length)).sum() * 0

    fit_alignment(tiny_world.ctx("contrastive", 0), AlignmentConfig(**FAST, languages=("l2",)), objective)
    assert set(seen) == {"l2"}


def test_content_mask_drops_special_tokens_and_padding(tiny_world):
    teacher = tiny_world.teacher(0)
    texts = [p.other for p in tiny_world.benchmark.bitext("l1")[:2]] + ["x"]
    feats = teacher.tokenize(texts)
    mask = content_mask(teacher, feats, exclude_special=True)
    tok = teacher.tokenizer
    structural = set(tok.all_special_ids) - {tok.unk_token_id}
    ids, att = feats["input_ids"], feats["attention_mask"]
    for row in range(2):
        expected = [float(bool(att[row, c]) and int(ids[row, c]) not in structural) for c in range(ids.shape[1])]
        assert mask[row].tolist() == expected
        assert 0 < mask[row].sum() < att[row].sum()  # [CLS] and [SEP] dropped, words kept
    # [UNK] is a word, not structure: it keeps its mass.
    assert all(mask[2, c] == 1.0 for c in range(ids.shape[1]) if int(ids[2, c]) == tok.unk_token_id)
    assert torch.equal(content_mask(teacher, feats, exclude_special=False), att.float())


def test_content_mask_keeps_a_text_made_only_of_special_tokens(tiny_world):
    teacher = tiny_world.teacher(0)
    feats = teacher.tokenize(["", "a b c"])
    mask = content_mask(teacher, feats, exclude_special=True)
    assert torch.equal(mask[0], feats["attention_mask"][0].float())  # no row without mass


def test_centring_ignores_a_shared_offset_and_padding():
    from harness_methods._tokens import _masked_mean

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 8, generator=g)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0]])
    shifted = x + 5.0 * torch.ones(8)
    shifted[mask == 0] = 1e3  # padding values do not enter the mean
    centred = (shifted - _masked_mean(shifted, mask))[mask == 1]
    torch.testing.assert_close(centred, (x - _masked_mean(x, mask))[mask == 1], atol=1e-4, rtol=0)
    torch.testing.assert_close(centred.sum(0), torch.zeros(8), atol=1e-4, rtol=0)


def test_query_side_student_keeps_the_teachers_documents(tiny_world):
    """OPTICAL's structure: only queries go through the student; document embeddings are the teacher's."""
    ctx = tiny_world.ctx("ot-distill", 0)
    enc = OTDistill({**FAST, "student_side": "query"}).fit(ctx)
    docs = list(tiny_world.benchmark.language_data("l1").corpus.values())[:6]
    queries = list(tiny_world.benchmark.language_data("l1").queries.values())[:6]
    assert torch.equal(enc.encode_documents(docs, "l1"), ctx.teacher.encode_documents(docs, "l1"))
    assert not torch.equal(enc.encode_queries(queries, "l1"), ctx.teacher.encode_queries(queries, "l1"))
    assert enc.document_encoder is ctx.teacher


@pytest.mark.parametrize("control", [{"align_weight": 0.0}, {"shuffle_bitext": True}])
def test_controls_train_and_differ_from_the_method(tiny_world, control):
    base = OTDistill(FAST).fit(tiny_world.ctx("ot-distill", 0))
    other = OTDistill({**FAST, **control}).fit(tiny_world.ctx("ot-distill", 0))
    texts = list(tiny_world.benchmark.language_data("l1").queries.values())[:6]
    assert not torch.equal(base.encode_queries(texts, "l1"), other.encode_queries(texts, "l1"))


def test_shuffled_bitext_keeps_sentences_but_breaks_pairs(tiny_world):
    from harness_methods._alignment import AlignmentConfig, bitext_languages

    ctx = tiny_world.ctx("ot-distill", 0)
    plain = bitext_languages(ctx, AlignmentConfig(), "ot-distill")
    shuffled = bitext_languages(ctx, AlignmentConfig(shuffle_bitext=True), "ot-distill")
    for lang in plain:
        assert sorted(p.other for p in plain[lang]) == sorted(p.other for p in shuffled[lang])
        assert [p.pivot for p in plain[lang]] == [p.pivot for p in shuffled[lang]]
        same = sum(a.other == b.other for a, b in zip(plain[lang], shuffled[lang]))
        assert same < len(plain[lang]) / 2


def test_hu2023_recipe_fills_the_published_settings_and_explicit_options_win(tiny_world):
    cfg = ContrastiveConfig(recipe="hu2023")
    assert (cfg.pivot_encoder, cfg.language_weight, cfg.pivot_anchor, cfg.symmetric) == (
        "student",
        1.0,
        "retrieval",
        True,
    )
    assert ContrastiveConfig(recipe="hu2023", language_weight=0.5).language_weight == 0.5
    assert ContrastiveConfig().pivot_encoder == "teacher" and ContrastiveConfig().recipe == "distill"
    ctx = tiny_world.ctx("contrastive", 0)
    Contrastive({**FAST, "recipe": "hu2023"}).fit(ctx)
    assert ctx.diagnostics["steps"] == 3
