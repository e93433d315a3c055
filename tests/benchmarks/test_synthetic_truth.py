"""What only a generated world knows: the true word alignment of its bitext and the true pivot
rendering of its queries (``BitextPair.alignment``, ``LanguageData.query_translations``)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from test_synthetic import TINY  # tests/benchmarks is on sys.path (rootdir-relative imports)

from harness.benchmarks.base import BitextPair, LanguageData
from harness.benchmarks.synthetic import SyntheticBenchmark, SyntheticOptions, generate_world
from harness.benchmarks.synthetic_world import _make_lexicon, world_from_json, world_to_json
from harness.benchmarks.tuning import select_queries
from harness.cache import Cache


@pytest.fixture(scope="module")
def opt():
    return SyntheticOptions(**TINY)


@pytest.fixture(scope="module")
def world(opt):
    return generate_world(opt)


class _Words(dict):
    """``word -> set of concepts it renders`` in one language; an inflected word renders its stem's."""

    def __init__(self, words: dict[str, set[int]], suffixes: list[str]):
        super().__init__(words)
        self.suffixes = suffixes

    def __missing__(self, w: str) -> set[int]:
        for s in self.suffixes:
            if w.endswith(s) and dict.__contains__(self, w[: -len(s)]):
                return dict.__getitem__(self, w[: -len(s)])
        raise KeyError(w)

    def __contains__(self, w: object) -> bool:
        try:
            self[w]
        except KeyError:
            return False
        return True


@pytest.fixture(scope="module")
def concept_of(opt):
    """``language -> word -> set of concepts it renders`` (anchors render one concept everywhere)."""
    lex = _make_lexicon(opt)
    out: dict[str, _Words] = {}
    for lang, table in lex.forms.items():
        words: dict[str, set[int]] = {}
        for c, forms in enumerate(table):
            for w in [*forms, lex.paraphrase[lang][c]]:
                words.setdefault(w, set()).add(c)
        out[lang] = _Words(words, lex.suffixes[lang])
    return out


def test_bitext_alignment_links_the_words_of_one_concept(world, opt, concept_of):
    n_pairs = 0
    for lang, pairs in world.bitext.items():
        if lang == opt.pivot:
            continue
        for p in pairs:
            assert p.alignment is not None
            a, b = p.pivot.split(), p.other.split()
            content_a = [i for i, w in enumerate(a) if w in concept_of[opt.pivot]]
            content_b = [j for j, w in enumerate(b) if w in concept_of[lang]]
            # every content word is aligned exactly once, function words never
            assert sorted(i for i, _ in p.alignment) == content_a
            assert sorted(j for _, j in p.alignment) == content_b
            for i, j in p.alignment:
                assert concept_of[opt.pivot][a[i]] & concept_of[lang][b[j]], (a[i], b[j])
            n_pairs += 1
    assert n_pairs == sum(len(v) for v in world.bitext.values())
    # word order differs in the reversed languages, so the alignment is not the diagonal
    assert any(any(i != j for i, j in p.alignment or ()) for p in world.bitext["h1"] + world.bitext["l1"])


def _concepts(text: str, words: dict[str, set[int]]) -> list[frozenset[int]]:
    return sorted((frozenset(words[w]) for w in text.split() if w in words), key=sorted)


def test_query_translations_render_the_same_concepts_in_the_pivot(world, opt, concept_of):
    function_words = set(_make_lexicon(opt).function_words[opt.pivot])
    for lang, data in world.languages.items():
        for split in (data, world.dev[lang]):
            assert split.query_translations is not None and set(split.query_translations) == set(split.queries)
            for q, text in split.queries.items():
                tr = split.query_translations[q]
                if lang == opt.pivot:
                    assert tr == text
                else:
                    assert _concepts(tr, concept_of[opt.pivot]) == _concepts(text, concept_of[lang])
                    assert all(w in concept_of[opt.pivot] or w in function_words for w in tr.split())


def test_cross_lingual_view_translates_to_the_pivots_own_query(world, opt):
    pivot = world.languages[opt.pivot]
    for split, base in (("test", pivot), ("dev", world.dev[opt.pivot])):
        view = world.crosslingual("l2", "low", opt.pivot, split)
        assert view.query_translations is not None
        assert sorted(view.query_translations.values()) == sorted(base.queries.values())
        assert set(view.query_translations) == set(view.queries)


def test_json_round_trip_and_cache_keep_alignment_and_translations(world, tmp_path):
    back = world_from_json(json.loads(json.dumps(world_to_json(world))))
    assert back.bitext == world.bitext
    assert back.bitext["l1"][0].alignment == world.bitext["l1"][0].alignment is not None
    for lang in world.languages:
        assert back.languages[lang].query_translations == world.languages[lang].query_translations
        assert back.dev[lang].query_translations == world.dev[lang].query_translations
        assert back.languages[lang].fingerprint() == world.languages[lang].fingerprint()
    bench = SyntheticBenchmark(TINY, Cache(tmp_path))
    again = SyntheticBenchmark(TINY, Cache(tmp_path))  # loads the stored world
    assert again.bitext("l3") == bench.bitext("l3") == world.bitext["l3"]
    assert again.language_data("l4").query_translations == world.languages["l4"].query_translations


def test_fingerprints_cover_the_truth(world):
    d = world.languages["l1"]
    changed = dict(d.query_translations or {})
    first = sorted(changed)[0]
    changed[first] = changed[first] + " x"
    assert dataclasses.replace(d, query_translations=changed).fingerprint() != d.fingerprint()
    # data without translations keeps the fingerprint it had before the field existed
    plain = LanguageData("sw", "low", {"d1": "maji safi", "d2": "x"}, {"q1": "maji"}, {"q1": {"d1": 1}})
    assert plain.fingerprint() == "0a346451296400156e8fd05e6ff0230b6204880409b19ab5523ec54123733670"


def test_bad_truth_is_refused():
    with pytest.raises(ValueError, match="one pivot rendering per query"):
        LanguageData(
            "sw",
            "low",
            {"d": "a"},
            {"q1": "a", "q2": "b"},
            {"q1": {"d": 1}, "q2": {"d": 1}},
            query_translations={"q1": "x"},
        )
    with pytest.raises(ValueError, match="out of range"):
        BitextPair("a b", "c", ((0, 0), (1, 1)))
    assert BitextPair("a b", "c", ((1, 0),)).alignment == ((1, 0),)
    assert BitextPair("a b", "c").alignment is None


def test_selecting_queries_keeps_their_translations(world):
    d = world.languages["l1"]
    keep = sorted(d.queries)[:5]
    sub = select_queries(d, keep)
    assert sub.query_translations == {q: d.query_translations[q] for q in keep}  # type: ignore[index]
