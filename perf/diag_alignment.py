"""Why does an alignment method (not) lift the low tier?  Diagnostics on the embedded benchmark.

For the seed-0 teacher of the default config and for students trained with given options,
prints per-language nDCG@10 and, for the first two non-pivot languages with bitext (``h1``,
``l1`` by default), bitext retrieval accuracy (other language -> pivot over 1,000 bitext
pairs, other side by the model, pivot side by the teacher; chance 0.001) and, for the
Sinkhorn plan between the teacher's pivot tokens and the model's tokens
(penultimate layer, batch-centred, epsilon 0.05, as ``ot-distill``'s defaults), the share of
transported mass between tokens of the *same concept* (the generator knows every word's
concept), against the share under the independent coupling.  A method that lowers its loss
while this share and the bitext accuracy stay flat is not learning translations.

Specs (any number, each trained from the same teacher with the JSON options):

* ``ot:{...}``: ``ot-distill``;
* ``ct:{...}``: ``contrastive``;
* ``oracle:{...}``: ``ot-distill``'s loss ``<P, C>`` and training loop with the Sinkhorn plan
  replaced by the *true* token alignment ``P`` (uniform over pairs of tokens of the same
  concept, from the generator's lexicon): what the objective does when the plan is right;
* ``otword:{...}`` / ``oracleword:{...}``: the same two on word vectors (each word's sub-word
  token vectors averaged before the cost).

Run (reuses the world, base encoder and teacher of a finished default run in the cache; set
``HARNESS_CONFIG`` to a TOML path to diagnose another config's world and teacher)::

    HARNESS_CACHE=~/.cache/harness python perf/diag_alignment.py \\
        'ot:{"epochs": 3, "lr": 5e-4}' 'ct:{"epochs": 3, "lr": 5e-4}' 'oracle:{"layer": -1}'

Findings are recorded in ``docs/results.md`` ("How the defaults came to be").
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str]) -> int:
    import numpy as np
    import torch
    from bench_gap import dense_run, ndcg10

    from harness.benchmarks.synthetic_world import _make_lexicon
    from harness.cache import Cache
    from harness.config import load_config
    from harness.engine import Engine
    from harness.errors import ConfigError
    from harness.plugin import FitContext
    from harness_methods._alignment import content_mask, fit_alignment
    from harness_methods._ot import cosine_cost, ot_alignment_loss
    from harness_methods.contrastive import Contrastive
    from harness_methods.ot_distill import OTDistill, OTDistillConfig, _masked_mean

    try:
        cfg = load_config(os.environ.get("HARNESS_CONFIG") or None)
    except ConfigError as e:
        print(f"HARNESS_CONFIG: {e}", file=sys.stderr)
        return 2
    engine = Engine(cfg, Cache(Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness"))))
    bench = engine.benchmark
    if bench.name != "synthetic":
        print("needs the synthetic benchmark (it reads the generator's lexicon)", file=sys.stderr)
        return 2
    teacher = engine.teacher(0)
    lex = _make_lexicon(bench.options)
    word_concept = {lang: {w: c for c, syns in enumerate(lex.forms[lang]) for w in syns} for lang in bench.languages}

    def concepts(enc, texts, langs, max_length):
        """``(B, L)`` concept id of every token of ``texts[b]`` (in ``langs[b]``); ``-1``: special, padding or
        function word."""
        f = enc.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out = torch.full(f["input_ids"].shape, -1)
        for b, (text, lang) in enumerate(zip(texts, langs)):
            words = text.split()
            for j, wid in enumerate(f.word_ids(b)):
                if wid is not None and wid < len(words):
                    out[b, j] = word_concept[lang].get(words[wid], -1)
        return out

    def word_concepts(texts, langs, n_words):
        """``(B, n_words)`` concept id of every word (``-1``: function word or no word)."""
        out = torch.full((len(texts), n_words), -1)
        for b, (text, lang) in enumerate(zip(texts, langs)):
            for k, w in enumerate(text.split()[:n_words]):
                out[b, k] = word_concept[lang].get(w, -1)
        return out

    def true_plan(tc, sc):
        """Uniform plan over the pairs of (pivot, other) units of the same concept: ``(B, n), (B, m) -> (B, n, m)``."""
        same = ((tc[:, :, None] == sc[:, None, :]) & (tc[:, :, None] >= 0)).float()
        return same / same.sum((1, 2), keepdim=True).clamp_min(1.0)

    def lang_ndcg(enc):
        return {
            lang: round(ndcg10(bench.language_data(lang), dense_run(enc, bench.language_data(lang))), 4)
            for lang in bench.languages
        }

    def bitext_acc(enc, lang="l1", n=1000):
        pairs = bench.bitext(lang)[:n]
        o, p = enc.encode([x.other for x in pairs]), teacher.encode([x.pivot for x in pairs])  # (n, H) each
        return round(float(((o @ p.T).argmax(1) == torch.arange(len(pairs))).float().mean()), 4)

    def plan_stats(enc, lang="l1", n=128, layer=-2, eps=0.05):
        pairs = bench.bitext(lang)[:n]
        tf, sf = dict(teacher.tokenize([x.pivot for x in pairs], 64)), dict(enc.tokenize([x.other for x in pairs], 64))
        tc = concepts(teacher, [x.pivot for x in pairs], [bench.pivot] * n, 64)
        sc = concepts(enc, [x.other for x in pairs], [lang] * n, 64)
        with torch.no_grad():
            tt = teacher.model(**tf, output_hidden_states=True).hidden_states[layer]  # (n, Lt, H)
            st = enc.model(**sf, output_hidden_states=True).hidden_states[layer]  # (n, Ls, H)
        tm, sm = content_mask(teacher, tf, True), content_mask(enc, sf, True)
        tt, st = tt - _masked_mean(tt, tm), st - _masked_mean(st, sm)
        res = ot_alignment_loss(tt, tm, st, sm, epsilon=eps, max_iter=300, tol=1e-3, warn=False)
        same = ((tc[:, :, None] == sc[:, None, :]) & (tc[:, :, None] >= 0)).float()  # (n, Lt, Ls)
        indep = tm[:, :, None] * sm[:, None, :] / (tm.sum(1)[:, None, None] * sm.sum(1)[:, None, None])
        return {
            "loss": round(float(res.loss), 4),
            "same_concept_mass": round(float((res.plan * same).sum() / res.plan.sum()), 4),
            "independent_coupling": round(float((indep * same).sum() / indep.sum()), 4),
        }

    def ctx(method):
        return FitContext(
            benchmark=bench,
            teacher=teacher,
            seed=0,
            device=engine.device,
            method=method,
            rng=np.random.default_rng(np.random.SeedSequence([0, 7])),
            cache_dir=engine.cache.root / "methods" / "diag",
            progress=False,
            training=cfg.training.model_dump(),
            base_model=None,
        )

    def word_pool(enc, texts, max_length, n_tokens):
        """``(B, W, n_tokens)`` averaging matrix from sub-word tokens to words (special tokens excluded)."""
        f = enc.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        n_words = max(1, max(len(t.split()) for t in texts))
        pool = torch.zeros(len(texts), n_words, n_tokens)
        for b in range(len(texts)):
            for j, wid in enumerate(f.word_ids(b)[:n_tokens]):
                if wid is not None and wid < n_words:
                    pool[b, wid, j] = 1.0
        return pool / pool.sum(-1, keepdim=True).clamp_min(1.0)

    class Objective:
        """ot-distill's loss ``1/B sum_b <P_b, C_b>`` with two switches: ``words`` averages each word's sub-word
        token vectors before the cost (units are words, not tokens); ``oracle`` replaces the Sinkhorn plan by the
        true alignment (uniform over same-concept pairs, from the generator's lexicon)."""

        def __init__(self, c: OTDistillConfig, words: bool, oracle: bool):
            self.cfg, self.words, self.oracle = c, words, oracle

        def __call__(self, step):
            c, pivot_langs = self.cfg, [bench.pivot] * len(step.batch.pivot)
            feats = step.student.tokenize(step.batch.other, step.max_length)
            s = step.student.token_embeddings(feats, layer=c.layer)  # (B, m, H)
            t = step.pivot.tokens(c.layer)  # (B, n, H)
            if self.words:
                ps = word_pool(step.student, step.batch.other, step.max_length, s.shape[1])  # (B, Ws, m)
                pt = word_pool(step.teacher, step.batch.pivot, step.max_length, t.shape[1])  # (B, Wt, n)
                s, t = ps @ s, pt @ t  # (B, Ws, H), (B, Wt, H)
                sm, tm = (ps.sum(-1) > 0).float(), (pt.sum(-1) > 0).float()
            else:
                tm, sm = content_mask(step.teacher, step.pivot.features, True), content_mask(step.student, feats, True)
            if c.center_tokens:
                t, s = t - _masked_mean(t, tm), s - _masked_mean(s, sm)
            if not self.oracle:
                return ot_alignment_loss(
                    t, tm, s, sm, epsilon=c.epsilon, max_iter=c.max_iter, tol=c.tol, warn=False
                ).loss
            if self.words:
                tc = word_concepts(step.batch.pivot, pivot_langs, t.shape[1])
                sc = word_concepts(step.batch.other, step.batch.languages, s.shape[1])
            else:  # both sides tokenised as in training (same padding), so ids line up with the token vectors
                tc = concepts(step.teacher, step.batch.pivot, pivot_langs, step.max_length)[:, : t.shape[1]]
                sc = concepts(step.student, step.batch.other, step.batch.languages, step.max_length)[:, : s.shape[1]]
            return (true_plan(tc, sc) * cosine_cost(t.detach(), s)).sum((1, 2)).mean()

    def report(name, enc, seconds):
        others = [lang for lang in bench.languages if lang != bench.pivot and bench.bitext(lang)]
        print(
            json.dumps(
                {
                    "name": name,
                    "seconds": round(seconds, 1),
                    "ndcg@10": lang_ndcg(enc),
                    "bitext_acc": {lang: bitext_acc(enc, lang) for lang in others[:2]},
                    "plan": {lang: plan_stats(enc, lang) for lang in others[:2]},
                }
            ),
            flush=True,
        )

    kinds = {
        "ot": "ot-distill",
        "ct": "contrastive",
        "oracle": "true token alignment",
        "otword": "ot-distill on word vectors",
        "oracleword": "true word alignment",
    }
    runs = []
    for spec in argv:  # every spec is checked before anything trains
        kind, _, text = spec.partition(":")
        if kind not in kinds:
            print(
                f"spec {spec!r}: unknown kind {kind!r}; use one of {', '.join(k + ':' for k in kinds)}", file=sys.stderr
            )
            return 2
        try:
            opts = json.loads(text or "{}")
            cfg_cls = Contrastive.Config if kind == "ct" else OTDistillConfig
            cfg_cls(**opts)
        except (ValueError, TypeError) as e:  # JSONDecodeError and pydantic's ValidationError are ValueErrors
            print(
                f"spec {spec!r}: bad options ({e}); write them as a JSON object, e.g. 'ot:{{\"epochs\": 3}}'",
                file=sys.stderr,
            )
            return 2
        runs.append((spec, kind, opts))

    report("teacher (zero-shot)", teacher, 0.0)
    for spec, kind, opts in runs:
        t0 = time.time()
        torch.manual_seed(0)
        if kind == "ot":
            enc = OTDistill(opts).fit(ctx("ot-distill"))
        elif kind == "ct":
            enc = Contrastive(opts).fit(ctx("contrastive"))
        else:
            c = OTDistillConfig(**opts)
            objective = Objective(c, words=kind.endswith("word"), oracle=kind.startswith("oracle"))
            enc, _ = fit_alignment(ctx("ot-distill"), c, objective)
        report(spec, enc, time.time() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
