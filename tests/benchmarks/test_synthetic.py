"""The embedded synthetic benchmark: determinism, shape invariants, tokenizer allocation, options."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.benchmarks.base import BitextPair, LanguageData, TrainPair
from harness.benchmarks.synthetic import SyntheticBenchmark, SyntheticOptions, generate_world
from harness.cache import Cache
from harness.errors import ConfigError, UnknownLanguageError

#: A small world that generates in well under a second.
TINY = {
    "n_topics": 8,
    "n_concepts": 160,
    "queries": 40,
    "corpus_docs": 100,
    "train_pairs": 60,
    "pretrain_sentences": {"high": 300, "mid": 100, "low": 30},
    "bitext_pairs": {"high": 50, "mid": 30, "low": 20},
}


@pytest.fixture(scope="module")
def world():
    return generate_world(SyntheticOptions(**TINY))


def test_same_seed_same_world_and_fingerprint(world):
    again = generate_world(SyntheticOptions(**TINY))
    assert again.fingerprint == world.fingerprint
    assert again.languages["l1"].corpus == world.languages["l1"].corpus
    assert again.bitext["l2"] == world.bitext["l2"]


def test_other_seed_other_world(world):
    other = generate_world(SyntheticOptions(**{**TINY, "seed": 14}))
    assert other.fingerprint != world.fingerprint
    assert other.languages["en"].queries != world.languages["en"].queries


def test_parts_draw_from_independent_streams(world):
    """Changing the bitext size leaves the evaluation data (and pre-training text) as they were."""
    other = generate_world(SyntheticOptions(**{**TINY, "bitext_pairs": {"high": 60, "mid": 30, "low": 25}}))
    assert other.fingerprint != world.fingerprint
    for lang in world.languages:
        assert other.languages[lang].fingerprint() == world.languages[lang].fingerprint()
        assert other.pretrain[lang] == world.pretrain[lang]


def test_shapes_tiers_and_judgements(world):
    opt = SyntheticOptions(**TINY)
    assert list(world.languages) == ["en", "h1", "l1", "l2", "l3", "l4"]
    tiers = {lang: d.tier for lang, d in world.languages.items()}
    assert sum(t == "high" for t in tiers.values()) >= 2 and sum(t == "low" for t in tiers.values()) >= 2
    for d in world.languages.values():
        assert isinstance(d, LanguageData)
        assert len(d.queries) == opt.queries and len(d.corpus) == opt.corpus_docs
        assert set(d.qrels) == set(d.queries)  # every query judged
        for q, rels in d.qrels.items():
            assert rels, q
            assert set(rels) <= set(d.corpus)  # qrels point to corpus docs
            assert set(rels.values()) <= {1, 2} and 2 in rels.values()  # the target passage is fully relevant
        assert all(d.queries.values()) and all(d.corpus.values())
    assert len(world.train_pairs) == opt.train_pairs and all(isinstance(p, TrainPair) for p in world.train_pairs)
    assert world.bitext["en"] == ()
    for lang, tier in tiers.items():
        if lang != "en":
            assert len(world.bitext[lang]) == opt.bitext_pairs[tier]
            assert all(isinstance(p, BitextPair) and p.pivot and p.other for p in world.bitext[lang])
        assert len(world.pretrain[lang]) == opt.pretrain_sentences[tier]


#: every sharing mechanism but the anchors off (tests/benchmarks/test_synthetic_truth.py tests them)
NO_SHARING = {
    "loanword_rate": {"high": 0.0, "mid": 0.0, "low": 0.0},
    "cognate_rate": {"high": 0.0, "mid": 0.0, "low": 0.0},
    "code_switch": {"high": 0.0, "mid": 0.0, "low": 0.0},
    "shared_syllables": {"high": 0.0, "mid": 0.0, "low": 0.0},
}


def test_languages_use_disjoint_words_except_anchors():
    world = generate_world(SyntheticOptions(**TINY, **NO_SHARING))
    vocab = {lang: {w for s in world.pretrain[lang] for w in s.split()} for lang in world.pretrain}
    shared = vocab["en"] & vocab["l1"]
    # without loanwords, cognates and code-switching, only anchors (numbers and names) are written alike
    assert shared and all(w.isdigit() or w[0].isupper() for w in shared)


def test_relevance_is_computed_from_content():
    """With one form per concept: a fully relevant passage holds every query concept, a
    partially relevant one at least two of them."""
    from harness.benchmarks.synthetic_world import _make_lexicon

    opt = SyntheticOptions(**{**TINY, "synonyms": 1, "synonym_weights": (1.0,)})
    function_words = set(_make_lexicon(opt).function_words["en"])
    d = generate_world(opt).languages["en"]
    for q, rels in d.qrels.items():
        concepts = set(d.queries[q].split()) - function_words
        assert 2 <= len(concepts) <= 3
        for doc, r in rels.items():
            found = concepts & set(d.corpus[doc].split())
            assert found == concepts if r == 2 else len(found) >= 2


def test_benchmark_interface_and_cache(tmp_path):
    cache = Cache(tmp_path)
    bench = SyntheticBenchmark(TINY, cache)
    assert bench.languages == ("en", "h1", "l1", "l2", "l3", "l4")
    assert bench.pivot == "en" and bench.tier("l3") == "low"
    fp = bench.fingerprint()
    assert len(list((tmp_path / "synthetic-world").glob("*/world.json"))) == 1
    again = SyntheticBenchmark(TINY, cache)  # loaded from the cache, same content
    assert again.fingerprint() == fp
    assert again.language_data("l1") == bench.language_data("l1")
    assert again.train_pairs() == bench.train_pairs() and again.bitext("h1") == bench.bitext("h1")
    assert bench.bitext("en") == ()
    info = bench.describe()
    assert info["synthetic"] is True and info["parameters"]["n_topics"] == 8 and info["fingerprint"] == fp
    json.dumps(info)  # serialisable for the manifest
    assert set(bench.language_fingerprints()) == set(bench.languages)
    with pytest.raises(UnknownLanguageError, match="did you mean 'l1'"):
        bench.language_data("l11")


@pytest.mark.parametrize(
    "options, path",
    [
        ({"n_topics": 1}, "benchmark.n_topics"),
        ({"unknown_key": 1}, "benchmark.unknown_key"),
        ({"languages": {"en": "high", "h1": "high", "l1": "low"}}, "benchmark.languages"),
        ({"languages": {"en": "high", "h1": "high", "l1": "low", "l2": "tiny"}}, "benchmark.languages.l2"),
        ({"languages": {"en": "low", "h1": "high", "h2": "high", "l1": "low", "l2": "low"}}, "benchmark.languages.en"),
        ({"pivot": "xx"}, "benchmark.pivot"),
        ({"languages": {"EN": "high", "h1": "high", "l1": "low", "l2": "low"}, "pivot": "EN"}, "benchmark.languages"),
        ({"pretrain_sentences": {"high": 10}}, "benchmark.pretrain_sentences"),
        ({"bitext_pairs": {"high": 10, "low": 0}}, "benchmark.bitext_pairs.low"),
        ({"synonym_weights": (1.0,)}, "benchmark.synonym_weights"),
        ({"corpus_docs": 10}, "benchmark.corpus_docs"),
    ],
)
def test_options_errors_name_the_key(options, path):
    with pytest.raises(ConfigError) as e:
        SyntheticOptions.from_mapping(options)
    assert e.value.path == path


def test_mid_tier_is_allowed():
    opt = SyntheticOptions.from_mapping(
        {
            "languages": {"en": "high", "h1": "high", "m1": "mid", "l1": "low", "l2": "low"},
            **{k: v for k, v in TINY.items()},
        }
    )
    world = generate_world(opt)
    assert world.languages["m1"].tier == "mid" and len(world.bitext["m1"]) == TINY["bitext_pairs"]["mid"]


def test_tokenizer_splits_low_resource_words_more(world):
    from harness.models.mini import pieces_per_word, train_tokenizer

    corpus = [s for lang in world.pretrain for s in world.pretrain[lang]]
    tok = train_tokenizer(corpus, vocab_size=1500)
    assert tok.convert_ids_to_tokens(tok("x")["input_ids"])[0] == "[CLS]"
    high = np.mean([pieces_per_word(tok, world.pretrain[lang]) for lang in ("en", "h1")])
    low = np.mean([pieces_per_word(tok, world.pretrain[lang]) for lang in ("l1", "l2", "l3", "l4")])
    assert low > 1.5 * high, (high, low)
    assert tok.get_vocab() == train_tokenizer(corpus, vocab_size=1500).get_vocab()  # deterministic


def test_base_model_dir_loads_as_biencoder(tmp_path):
    from harness.models.encoder import BiEncoder
    from harness.models.mini import MiniOptions

    bench = SyntheticBenchmark(TINY, Cache(tmp_path))
    opts = MiniOptions(vocab_size=800, hidden=32, heads=2, mlm_steps=3, batch_size=16)
    path = bench.base_model_dir(opts)
    assert bench.base_model_dir(opts) == path  # cached
    summary = json.loads((path / "mini.json").read_text())
    assert summary["pretrained"] is True and summary["mlm_steps"] == 3
    assert summary["pieces_per_word"]["l1"] > summary["pieces_per_word"]["en"]
    enc = BiEncoder.from_pretrained(path)
    emb = enc.encode(["a b c", bench.language_data("l1").queries["l1-q00000"]])
    assert emb.shape == (2, 32)
    assert np.allclose(emb.norm(dim=1).numpy(), 1.0, atol=1e-5)
    control = bench.base_model_dir(opts.model_copy(update={"pretrain": False}))
    assert control != path
    assert json.loads((control / "mini.json").read_text())["mlm_steps"] == 0
    spec = bench.base_model(opts)
    assert spec.path == str(path) and len(spec.fingerprint) == 64


def test_cross_lingual_mode_asks_the_pivots_needs_in_each_language(tmp_path):
    from harness.cache import Cache

    bench = SyntheticBenchmark({**TINY, "mode": "cross-lingual"}, Cache(tmp_path / "c"))
    mono = SyntheticBenchmark(TINY, Cache(tmp_path / "c"))
    piv = mono.language_data("en")
    for lang in bench.languages:
        d = bench.language_data(lang)
        assert d.corpus == piv.corpus and d.doc_language == "en" and d.tier == bench.tiers[lang]
        assert sorted(map(dict, d.qrels.values()), key=str) == sorted(map(dict, piv.qrels.values()), key=str)
        assert len(d.queries) == len(piv.queries)
        if lang != "en":  # the same needs, in another language's words (a loanword-only query may coincide)
            same = len(set(d.queries.values()) & set(piv.queries.values()))
            assert same <= 0.1 * len(d.queries), (lang, same)
    dev = bench.language_data("l1", "dev")
    assert set(dev.queries).isdisjoint(bench.language_data("l1").queries)
    assert bench.describe()["mode"] == "cross-lingual" and mono.describe()["mode"] == "monolingual"
    assert bench.fingerprint() == mono.fingerprint()  # one world (teachers shared); the mode is in the cell key
