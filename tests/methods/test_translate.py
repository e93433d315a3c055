"""Translators (harness_methods.translation): lexicon induction, seq2seq decoding, caching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import ConfigError, DataUnavailableError
from harness_methods.translation import (
    LexiconTranslator,
    Seq2SeqTranslator,
    ibm1,
    lexicon_from_bitext,
    translate_cached,
    word_precision,
)


# ----------------------------------------------------------------------------- lexicon
def _toy_parallel(n_pairs: int, seed: int, n_concepts: int = 300):
    """Parallel sentences from a known one-to-one lexicon, Zipfian concepts, random
    function words on both sides and reversed word order on the target side."""
    rng = np.random.default_rng(seed)
    src_words = [f"s{c}x" for c in range(n_concepts)]
    tgt_words = [f"t{c}y" for c in range(n_concepts)]
    p = 1.0 / np.arange(1, n_concepts + 1) ** 0.8
    p /= p.sum()
    src_fw, tgt_fw = ["la", "de", "ko"], ["the", "of", "a"]
    pairs, gold = [], []
    for _ in range(n_pairs):
        cs = rng.choice(n_concepts, size=int(rng.integers(4, 8)), replace=False, p=p)
        s = [src_words[c] for c in cs] + list(rng.choice(src_fw, size=2))
        t = [tgt_words[c] for c in cs[::-1]] + list(rng.choice(tgt_fw, size=1))
        pairs.append((" ".join(s), " ".join(t)))
        gold.append(cs)
    lexicon = dict(zip(src_words, tgt_words))
    return pairs, lexicon, gold


def _token_accuracy(tr: LexiconTranslator, pairs, lexicon) -> float:
    """Share of content-word tokens (held-out text) translated to their gold translation."""
    right = total = 0
    for s, _ in pairs:
        for w in s.split():
            if w in lexicon:
                total += 1
                right += tr.translate_words([w])[0] == lexicon[w]
    return right / total


def test_ibm1_learns_a_known_lexicon():
    pairs, lexicon, _ = _toy_parallel(400, seed=0, n_concepts=30)
    tr = LexiconTranslator.fit(pairs, source="xx", target="yy")
    assert all(tr.table[s] == t for s, t in lexicon.items())


def test_ibm1_probabilities_are_normalised_per_source_word():
    pairs, _, _ = _toy_parallel(50, seed=1, n_concepts=20)
    toks = [(s.split(), t.split()) for s, t in pairs]
    model = ibm1(toks, iterations=3)
    sums = np.bincount(model.src, weights=model.prob)
    np.testing.assert_allclose(sums, np.ones_like(sums), rtol=1e-9)


def test_lexicon_accuracy_grows_with_bitext_size():
    held_out, lexicon, _ = _toy_parallel(300, seed=99)
    accs = []
    for n in (30, 150, 600, 3000):
        train, _, _ = _toy_parallel(n, seed=7)
        accs.append(_token_accuracy(LexiconTranslator.fit(train, source="xx", target="yy"), held_out, lexicon))
    assert all(a < b for a, b in zip(accs, accs[1:])), accs
    assert accs[0] < 0.5 and accs[-1] > 0.9, accs


def test_lexicon_quality_follows_bitext_size_on_the_synthetic_world():
    from harness.benchmarks.synthetic import SyntheticOptions, generate_world

    opts = SyntheticOptions(
        n_topics=10,
        n_concepts=200,
        queries=5,
        corpus_docs=20,
        train_pairs=10,
        pretrain_sentences={"high": 10, "low": 10},
        bitext_pairs={"high": 2000, "low": 2000},
    )
    world = generate_world(opts)
    bitext = world.bitext["l1"]
    test = bitext[-200:]
    scores = []
    for n in (50, 300, 1800):
        tr = lexicon_from_bitext(bitext[:n], pivot="en", language="l1", to_pivot=True)
        scores.append(word_precision(tr.translate([p.other for p in test]), [p.pivot for p in test]))
    assert scores[0] < scores[1] < scores[2], scores
    # Untranslated text shares only anchors (names, numbers) with the pivot.
    identity = word_precision([p.other for p in test], [p.pivot for p in test])
    assert scores[0] > identity


def test_lexicon_keeps_unknown_words_and_case():
    tr = LexiconTranslator({"maji": "water"}, source="sw", target="en")
    assert tr.translate(["Maji Nairobi 2023 ."]) == ["water Nairobi 2023 ."]


def test_lexicon_id_changes_with_the_table():
    a = LexiconTranslator({"maji": "water"}, source="sw", target="en")
    b = LexiconTranslator({"maji": "waters"}, source="sw", target="en")
    assert a.id != b.id and a.id == LexiconTranslator({"maji": "water"}, source="sw", target="en").id


def test_lexicon_options_are_validated():
    with pytest.raises(ConfigError, match="min_count"):
        LexiconTranslator.fit([("a", "b")], source="x", target="y", min_count=0)


def test_word_precision():
    assert word_precision(["a b b c"], ["b a d"]) == pytest.approx(2 / 4)


# ----------------------------------------------------------------------------- cache
class _Counting(LexiconTranslator):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.calls: list[int] = []

    def translate(self, texts):
        self.calls.append(len(texts))
        return super().translate(texts)


def test_translate_cached_translates_each_text_once(tmp_path):
    tr = _Counting({"maji": "water", "safi": "clean"}, source="sw", target="en")
    texts = ["maji safi", "maji", "maji safi", "safi"]
    assert translate_cached(tr, texts, tmp_path) == ["water clean", "water", "water clean", "clean"]
    assert tr.calls == [3]  # de-duplicated
    assert translate_cached(tr, texts[::-1], tmp_path) == ["clean", "water clean", "water", "water clean"]
    assert tr.calls == [3]  # served from the cache (same set of texts)
    entries = list((tmp_path / "translations").iterdir())
    assert len([e for e in entries if e.is_dir() and not e.name.startswith(".")]) == 1


def test_translate_cached_chunks_and_resumes(tmp_path):
    tr = _Counting({"a": "A"}, source="x", target="y")
    texts = [f"a {i}" for i in range(10)]
    translate_cached(tr, texts[:4], tmp_path, chunk_size=4)
    assert tr.calls == [4]
    out = translate_cached(tr, texts[:4] + texts[4:], tmp_path, chunk_size=4)
    assert out == [f"A {i}" for i in range(10)]
    assert tr.calls == [4, 4, 2]  # the first chunk was already cached


def test_translate_cached_keys_on_the_translator(tmp_path):
    a = _Counting({"maji": "water"}, source="sw", target="en")
    b = _Counting({"maji": "agua"}, source="sw", target="es")
    assert translate_cached(a, ["maji"], tmp_path) == ["water"]
    assert translate_cached(b, ["maji"], tmp_path) == ["agua"]
    assert a.calls == [1] and b.calls == [1]


# ----------------------------------------------------------------------------- seq2seq
def test_seq2seq_translates_in_input_order_across_batches(tiny_marian, marian_pairs):
    tr = Seq2SeqTranslator(tiny_marian, source="sw", target="en", batch_size=2)
    texts = [s for s, _ in marian_pairs][::-1]
    assert tr.translate(texts) == [t for _, t in marian_pairs][::-1]


def test_seq2seq_is_deterministic_and_beam_search_works(tiny_marian, marian_pairs):
    greedy = Seq2SeqTranslator(tiny_marian, source="sw", target="en", batch_size=4)
    beam = Seq2SeqTranslator(tiny_marian, source="sw", target="en", batch_size=3, num_beams=3)
    texts = [s for s, _ in marian_pairs]
    first = greedy.translate(texts)
    assert greedy.translate(texts) == first
    assert beam.translate(texts) == [t for _, t in marian_pairs]
    assert greedy.id != beam.id  # decoding options are part of the cache key
    assert greedy.id == Seq2SeqTranslator(tiny_marian, source="sw", target="en", batch_size=1).id


def test_seq2seq_translations_are_cached(tiny_marian, tmp_path, monkeypatch):
    tr = Seq2SeqTranslator(tiny_marian, source="sw", target="en")
    texts = ["maji safi", "nyumba"]
    assert translate_cached(tr, texts, tmp_path) == ["clean water", "house"]

    def boom(texts):
        raise AssertionError("the model should not run again")

    monkeypatch.setattr(tr, "translate", boom)
    assert translate_cached(tr, texts, tmp_path) == ["clean water", "house"]
    entry = next(p for p in (tmp_path / "translations").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert json.loads((entry / "translations.json").read_text()) == ["clean water", "house"]


def test_seq2seq_id_follows_the_weights(tiny_marian, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_marian, copy)
    a = Seq2SeqTranslator(copy, source="sw", target="en").id
    cfg = json.loads((copy / "config.json").read_text())
    cfg["num_beams"] = 2
    (copy / "config.json").write_text(json.dumps(cfg))
    assert Seq2SeqTranslator(copy, source="sw", target="en").id != a


def test_seq2seq_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(DataUnavailableError, match=r"sw->en.*no config.json.*never downloads"):
        Seq2SeqTranslator(tmp_path / "nope", source="sw", target="en")


def test_seq2seq_target_language_token_must_exist(tiny_marian):
    tr = Seq2SeqTranslator(tiny_marian, source="sw", target="en", target_lang="eng_Latn")
    with pytest.raises(ConfigError, match="target_lang.*eng_Latn"):
        tr.translate(["maji"])


def test_seq2seq_forced_target_language_token(tiny_marian):
    tr = Seq2SeqTranslator(tiny_marian, source="sw", target="en", target_lang="en_EN")
    out = tr.translate(["maji"])
    # The forced first token is a special-free vocabulary word, kept in the output.
    assert out[0].split()[0] == "en_EN"
