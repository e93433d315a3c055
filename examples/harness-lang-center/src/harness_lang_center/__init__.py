"""``lang-center``: per-language mean centering of the teacher's embeddings (example plugin)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from harness.plugin import FitContext, Method
from harness.registry import register_method

if TYPE_CHECKING:
    import torch

__all__ = ["LanguageCentering", "CenteredEncoder"]
__version__ = "0.1.0"


class CenteredEncoder:
    """Encodes with ``normalize(f_T(x) - mu_l)``, ``mu_l`` the mean teacher embedding of language ``l``."""

    def __init__(self, teacher, means: dict[str, "torch.Tensor"], batch_size: int):
        self.teacher = teacher
        self.means = means
        self.batch_size = batch_size

    def _encode(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        import torch

        if language not in self.means:
            raise KeyError(f"lang-center has no mean for language {language!r}; fitted for {sorted(self.means)}")
        emb = self.teacher.encode(list(texts), batch_size=self.batch_size)  # (n, H)
        return torch.nn.functional.normalize(emb - self.means[language], dim=-1)

    def encode_queries(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self._encode(texts, language)

    def encode_documents(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self._encode(texts, language)


class LanguageCenteringConfig(BaseModel):
    """Options of ``lang-center``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_size: int = Field(1000, ge=1, le=10_000_000, description="passages per language used to estimate the mean")


@register_method("lang-center")
class LanguageCentering(Method):
    """Teacher embeddings centred per language (training-free language-bias removal).

    ``f(x) = normalize(f_T(x) - mu_l)`` for a text ``x`` of language ``l``, with
    ``mu_l = 1/|S_l| sum_{d in S_l} f_T(d)`` over a seeded sample ``S_l`` of at most
    ``sample_size`` passages of ``l``'s corpus.  Objective: none (no training).

    Example
    -------
    >>> encoder = LanguageCentering({"sample_size": 500}).fit(ctx)   # doctest: +SKIP
    """

    version = __version__
    citation = """@inproceedings{libovicky2020language,
  title = {On the Language Neutrality of Pre-trained Multilingual Representations},
  author = {Libovick{\\'y}, Jind{\\v{r}}ich and Rosa, Rudolf and Fraser, Alexander},
  booktitle = {Findings of the Association for Computational Linguistics: EMNLP 2020},
  year = {2020}
}"""
    Config = LanguageCenteringConfig
    kind = "dense"

    def fit(self, ctx: FitContext) -> CenteredEncoder:
        bench = ctx.benchmark
        batch_size = int(ctx.training.get("encode_batch_size", 256))
        means = {}
        for lang in bench.languages:
            corpus = bench.language_data(lang).corpus
            ids = sorted(corpus)
            k = min(self.config.sample_size, len(ids))
            pick = sorted(ctx.rng.choice(len(ids), size=k, replace=False).tolist())
            means[lang] = ctx.teacher.encode([corpus[ids[i]] for i in pick], batch_size=batch_size).mean(0)  # (H,)
        self.info = {"sample_size": self.config.sample_size}
        return CenteredEncoder(ctx.teacher, means, batch_size)
