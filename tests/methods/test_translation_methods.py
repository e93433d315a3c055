"""``translate-test`` and ``translate-train`` on the tiny world."""

from __future__ import annotations

import pytest
import torch

from harness.errors import ConfigError
from harness_methods.translate_test import TranslateTest
from harness_methods.translate_train import TranslateTrain
from harness_methods.translation import lexicon_from_bitext, translate_cached


def test_translate_test_encodes_translations_with_the_teacher(tiny_world):
    ctx = tiny_world.ctx("translate-test", 0)
    enc = TranslateTest().fit(ctx)
    bench = tiny_world.benchmark
    teacher = ctx.teacher
    en = list(bench.language_data("en").queries.values())[:5]
    torch.testing.assert_close(enc.encode_queries(en, "en"), teacher.encode(en))
    l1 = list(bench.language_data("l1").corpus.values())[:5]
    tr = lexicon_from_bitext(bench.bitext("l1"), pivot="en", language="l1", to_pivot=True)
    torch.testing.assert_close(enc.encode_documents(l1, "l1"), teacher.encode(tr.translate(l1)))
    # The translations were cached under the method's cache directory.
    assert any((ctx.cache_dir / "translations").iterdir())
    assert translate_cached(tr, l1, ctx.cache) == tr.translate(l1)
    assert enc is not teacher and ctx.method in ctx.cache_dir.parts


def test_translate_test_unknown_language(tiny_world):
    enc = TranslateTest().fit(tiny_world.ctx("translate-test", 0))
    with pytest.raises(KeyError, match="no translator for language 'zz'"):
        enc.encode_queries(["x"], "zz")


def test_translate_test_with_a_seq2seq_model_per_language(tiny_world, tiny_marian):
    langs = [lang for lang in tiny_world.benchmark.languages if lang != "en"]
    cfg = {
        "translator": "seq2seq",
        "models": {lang: str(tiny_marian) for lang in langs},
        "translate_batch_size": 4,
        "max_new_tokens": 6,
    }
    ctx = tiny_world.ctx("translate-test", 0)
    enc = TranslateTest(cfg).fit(ctx)
    assert all(tid.startswith(f"seq2seq:{lang}->en:") for lang, tid in ctx.diagnostics["translators"].items())
    out = enc.encode_queries(["maji safi", "nyumba"], "l1")
    torch.testing.assert_close(out, tiny_world.teacher(0).encode(["clean water", "house"]))


def test_seq2seq_needs_a_model_for_every_language(tiny_world, tiny_marian):
    with pytest.raises(ConfigError, match=r"methods\.translate-test\.models.*'h1'"):
        TranslateTest({"translator": "seq2seq", "models": {"l1": str(tiny_marian)}}).fit(
            tiny_world.ctx("translate-test", 0)
        )


def test_lexicon_with_models_is_a_config_error():
    with pytest.raises(ValueError, match="seq2seq"):
        TranslateTest({"models": {"sw": "/m"}})


def test_translate_train_trains_on_every_language(tiny_world):
    method = TranslateTrain({"steps": 6, "batch_size": 8, "pairs_per_language": 16})
    ctx = tiny_world.ctx("translate-train", 0)
    before = {k: v.clone() for k, v in ctx.teacher.state_dict().items()}
    student = method.fit(ctx)
    assert ctx.diagnostics["steps"] == 6 and ctx.diagnostics["pairs_per_language"] == 16
    assert set(ctx.diagnostics["translators"]) == set(tiny_world.benchmark.languages) - {"en"}
    assert all(torch.equal(v, ctx.teacher.state_dict()[k]) for k, v in before.items())
    assert any(not torch.equal(v, before[k]) for k, v in student.state_dict().items())
