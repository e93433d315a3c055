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
  concept, from the generator's lexicon): what the objective does when the plan is right.

Run (reuses the world, base encoder and teacher of a finished default run in the cache)::

    HARNESS_CACHE=~/.cache/harness python benchmarks/diag_alignment.py \\
        'ot:{"epochs": 3, "lr": 5e-4}' 'ct:{"epochs": 3, "lr": 5e-4}' 'oracle:{"layer": -1}'

Findings are recorded in the README ("What the default run says about the alignment methods").
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
    from harness.benchmarks.synthetic import _make_lexicon
    from harness.cache import Cache
    from harness.config import load_config
    from harness.engine import Engine
    from harness.plugin import FitContext
    from methods._alignment import content_mask, fit_alignment
    from methods._ot import cosine_cost, ot_alignment_loss
    from methods.contrastive import Contrastive
    from methods.ot_distill import OTDistill, OTDistillConfig, _masked_mean

    cfg = load_config(None)
    engine = Engine(cfg, Cache(Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness"))))
    bench = engine.benchmark
    if bench.name != "synthetic":
        print("needs the synthetic benchmark (it reads the generator's lexicon)", file=sys.stderr)
        return 2
    teacher = engine.teacher(0)
    lex = _make_lexicon(bench.options)
    word_concept = {lang: {w: c for c, syns in enumerate(lex.forms[lang]) for w in syns} for lang in bench.languages}

    def concepts(enc, texts, lang, max_length):
        """``(B, L)`` concept id of every token (``-1``: special, padding or function word)."""
        f = enc.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out = torch.full(f["input_ids"].shape, -1)
        for b, text in enumerate(texts):
            words = text.split()
            for j, wid in enumerate(f.word_ids(b)):
                if wid is not None and wid < len(words):
                    out[b, j] = word_concept[lang].get(words[wid], -1)
        return out

    def lang_ndcg(enc):
        return {lang: round(ndcg10(bench.language_data(lang), dense_run(enc, bench.language_data(lang))), 4)
                for lang in bench.languages}

    def bitext_acc(enc, lang="l1", n=1000):
        pairs = bench.bitext(lang)[:n]
        o, p = enc.encode([x.other for x in pairs]), teacher.encode([x.pivot for x in pairs])  # (n, H) each
        return round(float(((o @ p.T).argmax(1) == torch.arange(len(pairs))).float().mean()), 4)

    def plan_stats(enc, lang="l1", n=128, layer=-2, eps=0.05):
        pairs = bench.bitext(lang)[:n]
        tf, sf = dict(teacher.tokenize([x.pivot for x in pairs], 64)), dict(enc.tokenize([x.other for x in pairs], 64))
        tc, sc = concepts(teacher, [x.pivot for x in pairs], bench.pivot, 64), concepts(enc, [x.other for x in pairs], lang, 64)
        with torch.no_grad():
            tt = teacher.model(**tf, output_hidden_states=True).hidden_states[layer]  # (n, Lt, H)
            st = enc.model(**sf, output_hidden_states=True).hidden_states[layer]  # (n, Ls, H)
        tm, sm = content_mask(teacher, tf, True), content_mask(enc, sf, True)
        tt, st = tt - _masked_mean(tt, tm), st - _masked_mean(st, sm)
        res = ot_alignment_loss(tt, tm, st, sm, epsilon=eps, max_iter=300, tol=1e-3, warn=False)
        same = ((tc[:, :, None] == sc[:, None, :]) & (tc[:, :, None] >= 0)).float()  # (n, Lt, Ls)
        indep = tm[:, :, None] * sm[:, None, :] / (tm.sum(1)[:, None, None] * sm.sum(1)[:, None, None])
        return {"loss": round(float(res.loss), 4), "same_concept_mass": round(float((res.plan * same).sum() / res.plan.sum()), 4),
                "independent_coupling": round(float((indep * same).sum() / indep.sum()), 4)}

    def ctx(method):
        return FitContext(benchmark=bench, teacher=teacher, seed=0, device=engine.device, method=method,
                          rng=np.random.default_rng(np.random.SeedSequence([0, 7])),
                          cache_dir=engine.cache.root / "methods" / "diag", progress=False,
                          training=cfg.training.model_dump(), base_model=None)

    class OracleObjective:
        """``1/B sum_b <P_b, C_b>`` with ``P_b`` the true token alignment (same-concept pairs, uniform)."""

        def __init__(self, c: OTDistillConfig):
            self.cfg = c

        def __call__(self, step):
            c = self.cfg
            feats = step.student.tokenize(step.batch.other, step.max_length)
            s = step.student.token_embeddings(feats, layer=c.layer)  # (B, m, H)
            t = step.pivot.tokens(c.layer)  # (B, n, H)
            tm, sm = content_mask(step.teacher, step.pivot.features, True), content_mask(step.student, feats, True)
            if c.center_tokens:
                t, s = t - _masked_mean(t, tm), s - _masked_mean(s, sm)
            tc = concepts(step.teacher, step.batch.pivot, bench.pivot, step.max_length)[:, : t.shape[1]]  # (B, n)
            sc = torch.full((s.shape[0], s.shape[1]), -1)
            for b, (o, lang) in enumerate(zip(step.batch.other, step.batch.languages)):
                row = concepts(step.student, [o], lang, step.max_length)[0]
                sc[b, : row.shape[0]] = row[: s.shape[1]]
            same = ((tc[:, :, None] == sc[:, None, :]) & (tc[:, :, None] >= 0)).float()  # (B, n, m)
            plan = same / same.sum((1, 2), keepdim=True).clamp_min(1.0)
            return (plan * cosine_cost(t.detach(), s)).sum((1, 2)).mean()

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

    class WordOTObjective:
        """ot-distill's loss on *words*: token vectors averaged over each word's sub-word pieces
        before the cost; ``oracle`` replaces the Sinkhorn plan by the true word alignment."""

        def __init__(self, c: OTDistillConfig, oracle: bool):
            self.cfg, self.oracle = c, oracle

        def __call__(self, step):
            c = self.cfg
            feats = step.student.tokenize(step.batch.other, step.max_length)
            s = step.student.token_embeddings(feats, layer=c.layer)  # (B, m, H)
            t = step.pivot.tokens(c.layer)  # (B, n, H)
            ps = word_pool(step.student, step.batch.other, step.max_length, s.shape[1])  # (B, Ws, m)
            pt = word_pool(step.teacher, step.batch.pivot, step.max_length, t.shape[1])  # (B, Wt, n)
            sw, tw = ps @ s, pt @ t  # (B, Ws, H), (B, Wt, H)
            sm, tm = (ps.sum(-1) > 0).float(), (pt.sum(-1) > 0).float()
            if c.center_tokens:
                tw, sw = tw - _masked_mean(tw, tm), sw - _masked_mean(sw, sm)
            if not self.oracle:
                return ot_alignment_loss(tw, tm, sw, sm, epsilon=c.epsilon, max_iter=c.max_iter, tol=c.tol, warn=False).loss
            tcon = torch.full(tm.shape, -1)
            scon = torch.full(sm.shape, -1)
            for b, (p_text, o_text, lang) in enumerate(zip(step.batch.pivot, step.batch.other, step.batch.languages)):
                for k, w in enumerate(p_text.split()[: tcon.shape[1]]):
                    tcon[b, k] = word_concept[bench.pivot].get(w, -1)
                for k, w in enumerate(o_text.split()[: scon.shape[1]]):
                    scon[b, k] = word_concept[lang].get(w, -1)
            same = ((tcon[:, :, None] == scon[:, None, :]) & (tcon[:, :, None] >= 0)).float() * tm[:, :, None] * sm[:, None, :]
            plan = same / same.sum((1, 2), keepdim=True).clamp_min(1.0)
            return (plan * cosine_cost(tw.detach(), sw)).sum((1, 2)).mean()

    def report(name, enc, seconds):
        others = [lang for lang in bench.languages if lang != bench.pivot and bench.bitext(lang)]
        print(json.dumps({"name": name, "seconds": round(seconds, 1), "ndcg@10": lang_ndcg(enc),
                          "bitext_acc": {lang: bitext_acc(enc, lang) for lang in others[:2]},
                          "plan": {lang: plan_stats(enc, lang) for lang in others[:2]}}), flush=True)

    report("teacher (zero-shot)", teacher, 0.0)
    for spec in argv:
        kind, _, text = spec.partition(":")
        opts = json.loads(text or "{}")
        t0 = time.time()
        torch.manual_seed(0)
        if kind == "ot":
            enc = OTDistill(opts).fit(ctx("ot-distill"))
        elif kind == "ct":
            enc = Contrastive(opts).fit(ctx("contrastive"))
        elif kind in ("otword", "oracleword"):
            c = OTDistillConfig(**opts)
            enc, _ = fit_alignment(ctx("ot-distill"), c, WordOTObjective(c, oracle=kind == "oracleword"))
        elif kind == "oracle":
            c = OTDistillConfig(**opts)
            enc, _ = fit_alignment(ctx("ot-distill"), c, OracleObjective(c))
        else:
            print(f"unknown spec kind {kind!r}: use ot:, ct: or oracle:", file=sys.stderr)
            return 2
        report(spec, enc, time.time() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
