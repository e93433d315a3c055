"""The generator of the embedded benchmark's world, and its storage as JSON.

:func:`generate_world` turns :class:`~harness.benchmarks.synthetic_options.SyntheticOptions`
into a :class:`SyntheticWorld` (evaluation data per language, pivot training pairs,
bitext, pre-training text); what is generated and why is described in
:mod:`harness.benchmarks.synthetic`.  Deterministic from ``options.seed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import seeding
from harness.benchmarks.base import BitextPair, LanguageData, TrainPair
from harness.benchmarks.synthetic_options import GENERATOR_VERSION, SyntheticOptions

__all__ = ["SyntheticWorld", "generate_world", "measurement_bitext", "world_from_json", "world_to_json"]

_ONSETS = list("bcdfghjklmnprstvwz") + [
    "tr",
    "pl",
    "kr",
    "st",
    "sh",
    "ch",
    "th",
    "gr",
    "br",
    "dr",
    "fl",
    "sk",
    "ny",
    "qu",
]
_VOWELS = ["a", "e", "i", "o", "u", "y", "ai", "ou", "ea", "io"]
_CODAS = ["", "n", "r", "s", "l", "m", "k", "x"]
_SYLLABLES_P = (0.1, 0.6, 0.3)  # probability of 1, 2, 3 syllables in a content word
_SYLLABLES_CDF = np.cumsum(_SYLLABLES_P)[:-1]  # searchsorted(cdf, u) + 1: 1, 2 or 3 syllables


@dataclass(frozen=True)
class _Lexicon:
    """Surface forms.  ``forms[lang][c][s]``: synonym ``s`` of concept ``c`` in ``lang``."""

    forms: dict[str, list[list[str]]]
    paraphrase: dict[str, list[str]]  # paraphrase[lang][c]: the form passages never use (anchors: the anchor)
    function_words: dict[str, list[str]]
    suffixes: dict[str, list[str]]  # inflection suffixes per language
    reverse: dict[str, bool]
    topic_of: np.ndarray  # (n_concepts,) int
    weight: np.ndarray  # (n_concepts,) float, Zipf popularity
    is_anchor: np.ndarray  # (n_concepts,) bool
    topic_members: list[np.ndarray]  # per topic: concept ids
    topic_probs: list[np.ndarray]  # per topic: normalised weights of its members
    associates: np.ndarray  # (n_concepts, n_associates) int: concept-specific co-occurring concepts


def _make_lexicon(opt: SyntheticOptions) -> _Lexicon:
    rng = seeding.rng(opt.seed, "world", "lexicon")
    langs = list(opt.languages)
    syllables = [o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS]
    rng.shuffle(syllables)
    n_inv = len(langs) + 1  # one inventory per language, one for names
    per = len(syllables) // n_inv
    inventories = {name: syllables[i * per : (i + 1) * per] for i, name in enumerate(langs + ["@names"])}
    for lang in langs:  # a shared script: part of each language's syllables are the pivot's
        if lang != opt.pivot:
            k = int(round(opt.shared_syllables[opt.languages[lang]] * per))
            take = rng.choice(per, size=k, replace=False)
            inventories[lang] = [inventories[opt.pivot][j] for j in take.tolist()] + inventories[lang][k:]

    n = opt.n_concepts
    topic_of = rng.permutation(np.arange(n) % opt.n_topics)
    ranks = rng.permutation(n) + 1
    weight = ranks.astype(float) ** -opt.zipf_exponent
    is_anchor = np.zeros(n, dtype=bool)
    is_anchor[rng.choice(n, size=int(round(opt.anchor_fraction * n)), replace=False)] = True

    used: set[str] = set()
    syllables_of: dict[str, list[str]] = {}

    def new_word(inventory: list[str], n_syll: int) -> str:
        tries = 0
        while True:
            syl = [inventory[i] for i in rng.integers(len(inventory), size=n_syll)]
            w = "".join(syl)
            if w not in used:
                used.add(w)
                syllables_of[w] = syl
                return w
            tries += 1
            if tries % 50 == 0:  # short words of this inventory are (nearly) all taken: one syllable more
                n_syll += 1

    anchor_forms: dict[int, str] = {}
    for ci in np.flatnonzero(is_anchor):
        if rng.random() < 0.5:  # a number
            while True:
                w = str(int(rng.integers(10, 100_000)))
                if w not in used:
                    used.add(w)
                    break
        else:  # a name
            w = new_word(inventories["@names"], int(rng.integers(2, 4))).capitalize()
        anchor_forms[int(ci)] = w

    forms: dict[str, list[list[str]]] = {}
    paraphrase: dict[str, list[str]] = {}
    function_words: dict[str, list[str]] = {}
    suffixes: dict[str, list[str]] = {}
    reverse: dict[str, bool] = {}
    for i, lang in enumerate(langs):
        inv = inventories[lang]
        function_words[lang] = [new_word(inv, 1) for _ in range(opt.function_words)]
        suffixes[lang] = [new_word(inv, 1) for _ in range(opt.inflections)]
        table = []
        para = []
        # syllables per form (1-3, _SYLLABLES_P), drawn at once; paraphrases (a longer, descriptive form) only if used
        n_syll = np.searchsorted(_SYLLABLES_CDF, rng.random((n, opt.synonyms + 1)), side="right") + 1
        with_paraphrase = opt.paraphrase_rate > 0
        for c in range(n):
            if is_anchor[c]:
                table.append([anchor_forms[c]] * opt.synonyms)
                para.append(anchor_forms[c])
            else:
                row = n_syll[c].tolist()
                table.append([new_word(inv, row[s]) for s in range(opt.synonyms)])
                para.append(new_word(inv, row[-1] + 1) if with_paraphrase else table[-1][0])
        forms[lang] = table
        paraphrase[lang] = para
        reverse[lang] = lang != opt.pivot and bool(i % 2)

    # Shared subwords besides the anchors: loanwords (the pivot's first form, spelled alike) and cognates (the
    # pivot's first form with its last syllable replaced by one of the language's own), at rates by tier.
    for lang in langs:
        if lang == opt.pivot:
            continue
        tier = opt.languages[lang]
        loan, cog = opt.loanword_rate[tier], opt.cognate_rate[tier]
        r = seeding.rng(opt.seed, "world", "shared-forms", lang)
        u = r.random(n)
        for c in np.flatnonzero(~is_anchor & (u < loan + cog)).tolist():
            source = forms[opt.pivot][c][0]
            if u[c] < loan:
                forms[lang][c][0] = source
                continue
            stem = "".join(syllables_of[source][:-1] if len(syllables_of[source]) > 1 else syllables_of[source])
            own = inventories[lang]
            while True:
                w = stem + own[int(r.integers(len(own)))]
                if w in used:  # rare: a second syllable of the language's own
                    w += own[int(r.integers(len(own)))]
                if w not in used:
                    used.add(w)
                    forms[lang][c][0] = w
                    break
    members = [np.flatnonzero(topic_of == t) for t in range(opt.n_topics)]
    probs = [weight[m] / weight[m].sum() for m in members]
    assoc = np.zeros((n, opt.associates), dtype=np.int64)
    for c in range(n):
        m, p = members[topic_of[c]], probs[topic_of[c]]
        keep = m != c
        k = min(opt.associates, int(keep.sum()))
        chosen = rng.choice(m[keep], size=k, replace=False, p=p[keep] / p[keep].sum())
        assoc[c] = np.resize(chosen, opt.associates) if k else c
    return _Lexicon(
        forms, paraphrase, function_words, suffixes, reverse, topic_of, weight, is_anchor, members, probs, assoc
    )


# ---------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class _Passage:
    keys: tuple[int, ...]
    background: tuple[int, ...]


class _Writer:
    """Renders concept sequences as text in one language, drawing from ``rng``."""

    def __init__(self, lex: _Lexicon, opt: SyntheticOptions, lang: str, rng: np.random.Generator):
        self.lex, self.opt, self.lang, self.rng = lex, opt, lang, rng
        self.forms = lex.forms[lang]
        self.paraphrase = lex.paraphrase[lang]
        self.fw = lex.function_words[lang]
        fw_w = np.arange(1, len(self.fw) + 1, dtype=float) ** -1.0  # Zipfian function words
        self.fw_cdf = np.cumsum(fw_w / fw_w.sum())
        w = np.asarray(opt.synonym_weights, dtype=float)
        self.syn_cdf = np.cumsum(w / w.sum())
        self.reverse = lex.reverse[lang]

    def synonyms(self, k: int, paraphrase: bool = False) -> list[int]:
        """``k`` synonym indices; with ``paraphrase``, each is -1 (the paraphrase) with probability
        ``paraphrase_rate``.  Passages draw without: they never use a paraphrase."""
        idx = np.minimum(np.searchsorted(self.syn_cdf, self.rng.random(k), side="right"), len(self.syn_cdf) - 1)
        if paraphrase and self.opt.paraphrase_rate > 0:
            idx = np.where(self.rng.random(k) < self.opt.paraphrase_rate, -1, idx)
        return idx.tolist()

    def render(self, concepts: Sequence[int], syn: Sequence[int] | None = None) -> str:
        """Words of ``concepts`` (synonym ``syn[i]``, -1 the paraphrase; drawn with paraphrases if None)
        with function words."""
        return " ".join(self.render_words(concepts, syn, sources=False)[0])

    def render_words(
        self, concepts: Sequence[int], syn: Sequence[int] | None = None, sources: bool = True
    ) -> tuple[list[str], list[int]]:
        """:meth:`render` as whitespace tokens, and (``sources``) for each token the position in
        ``concepts`` of the concept it renders (-1: a function word; without ``sources`` an empty
        list).  Draws exactly what :meth:`render` draws."""
        k = len(concepts)
        if syn is None:
            syn = self.synonyms(k, paraphrase=True)
        content = [self.forms[c][s] if s >= 0 else self.paraphrase[c] for c, s in zip(concepts, syn)]
        if self.opt.inflection_rate > 0:  # an inflection suffix on some non-anchor words
            suffixes = self.lex.suffixes[self.lang]
            inflect = self.rng.random(k) < self.opt.inflection_rate
            which = self.rng.integers(len(suffixes), size=k)
            content = [
                w + suffixes[int(x)] if f and not self.lex.is_anchor[c] else w
                for w, c, f, x in zip(content, concepts, inflect.tolist(), which.tolist())
            ]
        source = list(range(k))
        if self.reverse:
            content.reverse()
            source.reverse()
        n_fw = int(self.rng.poisson(self.opt.function_word_rate * k))
        if n_fw == 0:
            return content, source
        slots = self.rng.integers(0, k + 1, size=n_fw).tolist()
        fws = np.minimum(np.searchsorted(self.fw_cdf, self.rng.random(n_fw), side="right"), len(self.fw) - 1)
        inserts: dict[int, list[str]] = {}
        for s, f in zip(slots, fws.tolist()):
            inserts.setdefault(s, []).append(self.fw[f])
        words: list[str] = []
        src: list[int] = []
        for i, w in enumerate(content):
            extra = inserts.get(i, ())
            words.extend(extra)
            words.append(w)
            if sources:
                src.extend([-1] * len(extra))
                src.append(source[i])
        extra = inserts.get(k, ())
        words.extend(extra)
        if sources:
            src.extend([-1] * len(extra))
        return words, src

    def passage_text(self, p: _Passage) -> str:
        # Key concepts are written twice with a per-passage synonym choice, background once.
        distinct = p.keys + p.background
        syn_of = dict(zip(distinct, self.synonyms(len(distinct))))
        concepts = list(p.keys) * 2 + list(p.background)
        seq = [concepts[i] for i in self.rng.permutation(len(concepts)).tolist()]
        return self.render(seq, [syn_of[c] for c in seq])


class _Sampler:
    """Draws abstract passages, queries and sentences (language-independent).

    Mentions follow concept popularity (Zipf weights within the topic); the key concepts a
    passage is *about* are drawn uniformly within its topic (rare concepts have passages
    too, as rare entities have Wikipedia articles).
    """

    def __init__(self, lex: _Lexicon, opt: SyntheticOptions, rng: np.random.Generator):
        self.lex, self.opt, self.rng = lex, opt, rng
        self.logp = [np.log(p) for p in lex.topic_probs]
        self.pos = np.zeros(len(lex.topic_of), dtype=np.int64)  # concept -> index within its topic
        for m in lex.topic_members:
            self.pos[m] = np.arange(len(m))

    def topical(self, topic: int, k: int, exclude: Sequence[int] = (), uniform: bool = False) -> list[int]:
        """``k`` distinct concepts of ``topic`` (Gumbel top-k: sampling without replacement)."""
        members = self.lex.topic_members[topic]
        g = -np.log(-np.log(self.rng.random(len(members))))
        if not uniform:
            g = g + self.logp[topic]
        n_ex = 0
        for c in exclude:
            if self.lex.topic_of[c] == topic:
                g[self.pos[c]] = -np.inf
                n_ex += 1
        k = min(k, len(members) - n_ex)
        top = np.argpartition(-g, k - 1)[:k] if k > 0 else np.zeros(0, dtype=int)
        top = top[np.argsort(-g[top])]
        return members[top].tolist()

    def passage(self, topic: int | None = None, keys: Sequence[int] | None = None) -> _Passage:
        if topic is None:
            topic = int(self.rng.integers(self.opt.n_topics))
        if keys is None:
            keys = self.topical(topic, 3, uniform=True)
        keys = tuple(int(c) for c in keys)
        bg: list[int] = []
        if self.opt.associates:  # one associate of each key, then topical mentions
            for c in keys:
                a = int(self.lex.associates[c, self.rng.integers(self.opt.associates)])
                if a not in keys and a not in bg and len(bg) < self.opt.background_concepts:
                    bg.append(a)
        bg += self.topical(topic, self.opt.background_concepts - len(bg), exclude=list(keys) + bg)
        off = int(self.rng.integers(self.opt.n_concepts))  # one off-topic mention
        if off not in keys and off not in bg:
            bg.append(off)
        return _Passage(keys, tuple(bg))

    def confuser(self, target: _Passage, topic: int) -> _Passage:
        """A passage of the same topic sharing 1 or 2 of ``target``'s key concepts."""
        n_shared = int(self.rng.integers(1, 3))
        shared = [target.keys[i] for i in self.rng.permutation(3)[:n_shared].tolist()]
        fresh = self.topical(topic, 3 - n_shared, exclude=target.keys, uniform=True)
        return self.passage(topic, shared + fresh)

    def query_concepts(self, target: _Passage) -> list[int]:
        k = 2 if self.rng.random() < 0.3 else 3
        return [target.keys[i] for i in self.rng.permutation(3)[:k].tolist()]

    def sentence(self, lo: int, hi: int) -> list[int]:
        """A topical sentence of ``lo..hi`` concepts (+1 off-topic): one or two focus
        concepts with some of their associates, filled up with topical mentions."""
        topic = int(self.rng.integers(self.opt.n_topics))
        length = int(self.rng.integers(lo, hi + 1))
        seq: list[int] = []
        if self.opt.associates:
            for focus in self.topical(topic, 1 if length < 8 else 2):
                seq.append(focus)
                k = int(self.rng.integers(2, 4))
                for a in self.lex.associates[focus, self.rng.permutation(self.opt.associates)[:k]].tolist():
                    if a not in seq:
                        seq.append(a)
        seq = seq[:length]
        seq += self.topical(topic, length - len(seq), exclude=seq)
        seq.append(int(self.rng.integers(self.opt.n_concepts)))
        return [seq[i] for i in self.rng.permutation(len(seq)).tolist()]


def _alignment(src_a: Sequence[int], src_b: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """True word alignment of two renderings of one concept sequence: ``(i, j)`` where token ``i``
    of the first and token ``j`` of the second render the same position of the sequence."""
    where = {p: j for j, p in enumerate(src_b) if p >= 0}
    return tuple((i, where[p]) for i, p in enumerate(src_a) if p >= 0 and p in where)


def _relevance(queries: list[list[int]], passages: list[_Passage]) -> list[dict[int, int]]:
    """``rel(d) = 2`` if Q <= K_d, 1 if |Q & K_d| >= 2 (see module docstring)."""
    by_key: dict[int, list[int]] = {}
    for i, p in enumerate(passages):
        for c in set(p.keys):
            by_key.setdefault(c, []).append(i)
    out = []
    for q in queries:
        counts: dict[int, int] = {}
        for c in set(q):
            for i in by_key.get(c, ()):
                counts[i] = counts.get(i, 0) + 1
        qs = len(set(q))
        out.append({i: (2 if n == qs else 1) for i, n in counts.items() if n >= 2})
    return out


@dataclass(frozen=True)
class SyntheticWorld:
    """Everything generated: evaluation data, training pairs, bitext and pre-training text."""

    languages: dict[str, LanguageData]
    train_pairs: tuple[TrainPair, ...]
    bitext: dict[str, tuple[BitextPair, ...]]
    pretrain: dict[str, tuple[str, ...]]  # language -> sentences
    fingerprint: str
    dev: dict[str, LanguageData] = field(default_factory=dict)  # dev queries over the same corpus
    #: language -> (test, dev) renderings of the pivot's queries (cross-lingual mode)
    cross: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def crosslingual(self, language: str, tier: str, pivot: str, split: str = "test") -> LanguageData:
        """Queries in ``language`` for the pivot's information needs, against the pivot's corpus and judgements."""
        base = self.languages[pivot] if split == "test" else self.dev[pivot]
        texts = self.cross[language][0 if split == "test" else 1]
        qids = sorted(base.queries)  # the pivot's query j is rendered as texts[j] (ids are zero-padded)
        tag = "xq" if split == "test" else "xdev"
        return LanguageData(
            language,
            tier,
            base.corpus,
            {f"{language}-{tag}{j:05d}": t for j, t in enumerate(texts)},
            {f"{language}-{tag}{j:05d}": base.qrels[q] for j, q in enumerate(qids)},
            document_language=pivot,
            query_translations={f"{language}-{tag}{j:05d}": base.queries[q] for j, q in enumerate(qids)},
        )


def generate_world(opt: SyntheticOptions) -> SyntheticWorld:
    """Generate the world of ``opt`` (deterministic; a few seconds at the default size).

    Every part draws from its own stream ``harness.seeding.rng(seed, "world", part)``,
    so e.g. changing the bitext size leaves the evaluation data unchanged.
    """
    lex = _make_lexicon(opt)

    def rng_for(part: str) -> np.random.Generator:
        return seeding.rng(opt.seed, "world", part)

    data: dict[str, LanguageData] = {}
    dev: dict[str, LanguageData] = {}
    pivot_concepts: list[list[int]] = []
    for lang, tier in opt.languages.items():
        rng = rng_for(f"eval/{lang}")
        sampler, writer = _Sampler(lex, opt, rng), _Writer(lex, opt, lang, rng)
        passages: list[_Passage] = []
        query_concepts: list[list[int]] = []
        # test and dev queries are drawn alike from one stream (the same distribution), over one corpus
        for _ in range(opt.queries + opt.n_dev):
            topic = int(rng.integers(opt.n_topics))
            target = sampler.passage(topic)
            passages.append(target)
            passages.extend(sampler.confuser(target, topic) for _ in range(opt.confusers_per_query))
            query_concepts.append(sampler.query_concepts(target))
        passages.extend(sampler.passage() for _ in range(opt.corpus_docs - len(passages)))
        order = rng.permutation(len(passages))  # doc ids do not reveal the target
        doc_ids = [""] * len(passages)
        for rank, i in enumerate(order.tolist()):
            doc_ids[i] = f"{lang}-d{rank:06d}"
        corpus = {doc_ids[i]: writer.passage_text(p) for i, p in enumerate(passages)}
        texts = [writer.render(q) for q in query_concepts]
        if lang == opt.pivot:
            pivot_concepts = query_concepts
            translations = texts
        else:  # the true pivot rendering of each query (its own stream: the evaluation data stay as they were)
            tw = _Writer(lex, opt, opt.pivot, rng_for(f"query-translations/{lang}"))
            translations = [tw.render(q) for q in query_concepts]
        rels = [{doc_ids[i]: r for i, r in rel.items()} for rel in _relevance(query_concepts, passages)]
        corpus = dict(sorted(corpus.items()))
        n = opt.queries
        data[lang] = LanguageData(
            lang,
            tier,
            corpus,
            {f"{lang}-q{j:05d}": texts[j] for j in range(n)},
            {f"{lang}-q{j:05d}": rels[j] for j in range(n)},
            query_translations={f"{lang}-q{j:05d}": translations[j] for j in range(n)},
        )
        dev[lang] = LanguageData(
            lang,
            tier,
            corpus,
            {f"{lang}-dev{j:05d}": texts[n + j] for j in range(opt.n_dev)},
            {f"{lang}-dev{j:05d}": rels[n + j] for j in range(opt.n_dev)},
            query_translations={f"{lang}-dev{j:05d}": translations[n + j] for j in range(opt.n_dev)},
        )

    # Cross-lingual evaluation data: the pivot's information needs (its test and dev queries' concepts),
    # rendered in every language, searched in the pivot's corpus with the pivot's judgements.
    cross: dict[str, tuple[list[str], list[str]]] = {}
    for lang in opt.languages:
        w = _Writer(lex, opt, lang, rng_for(f"cross-queries/{lang}"))
        texts = [w.render(q) for q in pivot_concepts]
        cross[lang] = (texts[: opt.queries], texts[opt.queries :])

    rng = rng_for("train")
    sampler, writer = _Sampler(lex, opt, rng), _Writer(lex, opt, opt.pivot, rng)
    pairs = []
    for _ in range(opt.train_pairs):
        target = sampler.passage()
        pairs.append(TrainPair(writer.render(sampler.query_concepts(target)), writer.passage_text(target)))

    bitext: dict[str, tuple[BitextPair, ...]] = {opt.pivot: ()}
    for lang, tier in opt.languages.items():
        if lang == opt.pivot:
            continue
        rng = rng_for(f"bitext/{lang}")
        sampler = _Sampler(lex, opt, rng)
        src, tgt = _Writer(lex, opt, opt.pivot, rng), _Writer(lex, opt, lang, rng)
        bitext[lang] = _parallel(sampler, src, tgt, opt.bitext_pairs[tier])

    pretrain: dict[str, tuple[str, ...]] = {}
    for lang, tier in opt.languages.items():
        rng = rng_for(f"pretrain/{lang}")
        sampler, writer = _Sampler(lex, opt, rng), _Writer(lex, opt, lang, rng)
        switch = 0.0 if lang == opt.pivot else opt.code_switch[tier]
        to_pivot = _Writer(lex, opt, opt.pivot, rng)
        sentences = []
        for _ in range(opt.pretrain_sentences[tier]):
            seq = sampler.sentence(7, 12)
            if switch and rng.random() < switch:  # code-switched: the language, then the pivot from a concept on
                cut = int(rng.integers(2, len(seq) - 1))
                sentences.append(writer.render(seq[:cut]) + " " + to_pivot.render(seq[cut:]))
            else:
                sentences.append(writer.render(seq))
        pretrain[lang] = tuple(sentences)

    h = hashlib.sha256(f"synthetic-v{GENERATOR_VERSION}\n".encode())
    for lang in opt.languages:
        h.update(f"lang {lang} {opt.languages[lang]} {data[lang].fingerprint()}\n".encode())
        if opt.n_dev:
            h.update(f"dev {dev[lang].fingerprint()}\n".encode())
        for q in (*cross[lang][0], *cross[lang][1]):
            h.update(f"x {q}\n".encode())
        for part in (bitext.get(lang, ()),):
            for p in part:
                h.update(f"{p.pivot}\t{p.other}\t{p.alignment}\n".encode())
        for s in pretrain[lang]:
            h.update(s.encode() + b"\n")
    for tp in pairs:
        h.update(f"{tp.query}\t{tp.positive}\n".encode())
    return SyntheticWorld(data, tuple(pairs), bitext, pretrain, h.hexdigest(), dev, cross)


def measurement_bitext(opt: SyntheticOptions, n: int = 1000) -> dict[str, tuple[BitextPair, ...]]:
    """``language -> n`` held-out parallel sentences pivot <-> language with their true word alignment
    (every language but the pivot).

    Drawn like the training bitext (:func:`generate_world`) but from their own streams
    (``"measure-bitext/<language>"``), so no method trains on them: the test set of the
    teacher-level alignment measures (:mod:`harness.world_measures`), as Tatoeba is for mBERT.
    Generated on demand (not stored in the world) and deterministic from ``opt``.
    """
    lex = _make_lexicon(opt)
    out = {}
    for language in opt.languages:
        if language == opt.pivot:
            continue
        rng = seeding.rng(opt.seed, "world", f"measure-bitext/{language}")
        src, tgt = _Writer(lex, opt, opt.pivot, rng), _Writer(lex, opt, language, rng)
        out[language] = _parallel(_Sampler(lex, opt, rng), src, tgt, n)
    return out


def _parallel(sampler: _Sampler, src: _Writer, tgt: _Writer, n: int) -> tuple[BitextPair, ...]:
    """``n`` sentences of 5-9 concepts rendered by ``src`` (pivot) and ``tgt``, with their true alignment."""
    out = []
    for _ in range(n):
        seq = sampler.sentence(5, 9)
        (a, src_a), (b, src_b) = src.render_words(seq), tgt.render_words(seq)
        out.append(BitextPair(" ".join(a), " ".join(b), _alignment(src_a, src_b)))
    return tuple(out)


# ---------------------------------------------------------------------------- storage
def world_to_json(world: SyntheticWorld) -> dict[str, Any]:
    return {
        "fingerprint": world.fingerprint,
        "languages": {
            lang: {
                "tier": d.tier,
                "corpus": dict(d.corpus),
                "queries": dict(d.queries),
                "qrels": {q: dict(r) for q, r in d.qrels.items()},
                "query_translations": None if d.query_translations is None else dict(d.query_translations),
            }
            for lang, d in world.languages.items()
        },
        "train_pairs": [[p.query, p.positive] for p in world.train_pairs],
        "bitext": {
            lang: [[p.pivot, p.other, None if p.alignment is None else [list(a) for a in p.alignment]] for p in pairs]
            for lang, pairs in world.bitext.items()
        },
        "pretrain": {lang: list(s) for lang, s in world.pretrain.items()},
        "dev": {
            lang: {
                "queries": dict(d.queries),
                "qrels": {q: dict(r) for q, r in d.qrels.items()},
                "query_translations": None if d.query_translations is None else dict(d.query_translations),
            }
            for lang, d in world.dev.items()
        },
        "cross": {lang: [list(t), list(d)] for lang, (t, d) in world.cross.items()},
    }


def world_from_json(obj: Mapping[str, Any]) -> SyntheticWorld:
    return SyntheticWorld(
        languages={
            lang: LanguageData(
                lang, d["tier"], d["corpus"], d["queries"], d["qrels"], query_translations=d.get("query_translations")
            )
            for lang, d in obj["languages"].items()
        },
        train_pairs=tuple(TrainPair(q, p) for q, p in obj["train_pairs"]),
        bitext={lang: tuple(_bitext_pair(*p) for p in pairs) for lang, pairs in obj["bitext"].items()},
        pretrain={lang: tuple(s) for lang, s in obj["pretrain"].items()},
        fingerprint=obj["fingerprint"],
        dev={
            lang: LanguageData(
                lang,
                obj["languages"][lang]["tier"],
                obj["languages"][lang]["corpus"],
                d["queries"],
                d["qrels"],
                query_translations=d.get("query_translations"),
            )
            for lang, d in obj.get("dev", {}).items()
        },
        cross={lang: (list(t), list(d)) for lang, (t, d) in obj.get("cross", {}).items()},
    )


def _bitext_pair(pivot: str, other: str, alignment: Sequence[Sequence[int]] | None = None) -> BitextPair:
    return BitextPair(pivot, other, None if alignment is None else tuple((int(i), int(j)) for i, j in alignment))
