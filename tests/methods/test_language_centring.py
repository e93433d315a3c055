"""``language-centring``: the teacher minus each language's mean embedding, estimated from its own bitext side."""

from __future__ import annotations

import pytest
import torch

from harness import registry
from harness_methods.language_centring import CentredEncoder, LanguageCentring, estimation_texts


def test_registered_as_a_builtin_method():
    from importlib.metadata import entry_points

    assert registry.get_method("language-centring") is LanguageCentring
    assert "language-centring" in registry.METHODS.names()
    assert registry.METHODS.distribution("language-centring").startswith("xling-harness")
    eps = {e.name: e.value for e in entry_points(group="harness.methods")}
    assert eps["language-centring"] == "harness_methods.language_centring:LanguageCentring"


def test_centred_embeddings_have_zero_mean_per_language(tiny_world):
    bench = tiny_world.benchmark
    ctx = tiny_world.ctx("language-centring", 0)
    enc = LanguageCentring({"sample_size": 100_000, "renormalize": False}).fit(ctx)  # every sentence: exact means
    assert isinstance(enc, CentredEncoder)
    for lang in bench.languages:
        texts = estimation_texts(bench, lang)
        raw = ctx.teacher.encode_documents(texts, lang)  # (n, H)
        centred = enc.encode_documents(texts, lang)
        assert float(raw.mean(0).norm()) > 0.05  # the teacher's embeddings do have a language offset to remove
        assert float(centred.mean(0).norm()) < 1e-5, lang
        torch.testing.assert_close(enc.encode_queries(texts[:7], lang), centred[:7])
    # each language is centred with its own mean, not a shared one
    assert float((enc.means["l1"] - enc.means[bench.pivot]).norm()) > 1e-3
    assert ctx.diagnostics["centring"]["sentences"]["l1"] == len(estimation_texts(bench, "l1"))


def test_estimation_text_is_the_languages_own_bitext_side(tiny_world):
    bench = tiny_world.benchmark
    assert estimation_texts(bench, "l1") == [p.other for p in bench.bitext("l1")]
    pivot = estimation_texts(bench, bench.pivot)
    assert set(pivot) == {p.pivot for lang in bench.languages if lang != bench.pivot for p in bench.bitext(lang)}
    queries = set(bench.language_data("l1").queries.values()) | set(bench.language_data(bench.pivot).queries.values())
    assert not queries & (set(pivot) | set(estimation_texts(bench, "l1")))  # never the evaluation queries


def test_renormalised_vectors_are_unit_and_identity_names_the_mean(tiny_world):
    ctx = tiny_world.ctx("language-centring", 0)
    enc = LanguageCentring({"sample_size": 50}).fit(ctx)
    texts = estimation_texts(tiny_world.benchmark, "l2")[:9]
    out = enc.encode_documents(texts, "l2")
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(len(texts)))
    ids = {lang: enc.document_identity(lang) for lang in ("en", "l1", "l2")}
    assert len(set(ids.values())) == 3 and all(ids.values())
    assert ids["l1"] != ctx.teacher.document_identity("l1")
    again = LanguageCentring({"sample_size": 50}).fit(tiny_world.ctx("language-centring", 0))
    assert again.document_identity("l1") == ids["l1"]  # the same seed draws the same sample
    with pytest.raises(KeyError, match="no mean embedding for language 'zz'"):
        enc.encode_queries(["x"], "zz")
