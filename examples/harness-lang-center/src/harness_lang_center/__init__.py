"""``lang-center``: the teacher's embeddings centred per language (an example method plugin)."""

import torch
from pydantic import Field

from harness import FitContext, Method, Options


class LanguageCenteringConfig(Options):  # the [methods.lang-center] table
    sample_size: int = Field(1000, ge=1, description="passages per language used to estimate the mean")


class LanguageCentering(Method[LanguageCenteringConfig]):
    """Teacher embeddings centred per language: ``f(x) = normalize(f_T(x) - mu_l)`` (no training).

    ``mu_l``: mean teacher embedding of a seeded sample of at most ``sample_size`` passages of ``l``.
    """

    version = "0.2.0"
    citation = "@inproceedings{libovicky2020language, author = {Libovicky, Jindrich and others}, year = {2020}}"

    def fit(self, ctx: FitContext) -> "Centered":
        means = {}
        for lang in ctx.benchmark.languages:
            ids = sorted(corpus := ctx.benchmark.language_data(lang).corpus)
            pick = sorted(ctx.rng.choice(len(ids), size=min(self.config.sample_size, len(ids)), replace=False))
            means[lang] = ctx.teacher.encode_documents([corpus[ids[i]] for i in pick], lang).mean(0)  # (H,)
        ctx.diagnostics["sample_size"] = self.config.sample_size
        return Centered(ctx.teacher, means)


class Centered:  # an Encoder: the harness searches with it
    def __init__(self, teacher, means):
        self.teacher, self.means = teacher, means

    def encode_queries(self, texts, lang):
        return torch.nn.functional.normalize(self.teacher.encode_queries(texts, lang) - self.means[lang], dim=-1)

    def encode_documents(self, texts, lang):
        return torch.nn.functional.normalize(self.teacher.encode_documents(texts, lang) - self.means[lang], dim=-1)
