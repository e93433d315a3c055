"""``language-centring``: the teacher with each language's mean embedding removed (a training-free control)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from harness.fitted import SavesFittedRetriever
from harness.options import Options
from harness.plugin import FitContext, Method
from harness.registry import register_method

if TYPE_CHECKING:
    import torch


class LanguageCentringConfig(Options):
    sample_size: int = Field(
        1000, ge=2, le=10_000_000, description="unlabeled sentences per language used to estimate its mean embedding"
    )
    renormalize: bool = Field(
        True, description="L2-normalise the centred vectors (scores are then cosines of centred embeddings)"
    )


def estimation_texts(benchmark: Any, language: str) -> list[str]:
    """The unlabeled text of ``language`` its mean is estimated from: its side of the bitext.

    For a non-pivot language, the ``other`` side of ``bitext(language)``; for the pivot, the
    pivot side of every language's bitext (deduplicated, sorted).  Never evaluation queries
    or passages.
    """
    if language != benchmark.pivot:
        return [p.other for p in benchmark.bitext(language)]
    return sorted({p.pivot for lang in benchmark.languages if lang != benchmark.pivot for p in benchmark.bitext(lang)})


@register_method("language-centring")
class LanguageCentring(SavesFittedRetriever, Method[LanguageCentringConfig]):
    """The seed's teacher with each language's mean embedding subtracted (no training; a control).

    Encoder, for a text x of language l (queries in their language, documents in theirs, which is
    the pivot in cross-lingual mode)::

        f(x) = (e(x) - mu_l) / ||e(x) - mu_l||      (renormalize = true; without it f(x) = e(x) - mu_l)
        mu_l = (1 / |S_l|) sum_{s in S_l} e(s)

    with ``e`` the teacher's pooled, L2-normalised embedding and ``S_l`` a sample (at most
    ``sample_size``, drawn with the cell's data stream) of l's **own side of the bitext**: the
    ``other`` sentences of ``bitext(l)``, and for the pivot the pivot sentences of every
    language's bitext.  Why the bitext: it is the one unlabeled text every adapter provides in
    every language (MIRACL and local files too), it is the data the alignment methods train
    on (so the control uses no data they lack, and none of its translation signal: each side
    is used alone), and both sides are sentences of the same kind, so mu_l - mu_pivot reflects
    the language, not a genre.  Evaluation queries and passages are never used (in
    cross-lingual mode a language's corpus is the pivot's, which would be the wrong language
    anyway).  Scores are inner products of ``f(q)`` and ``f(d)``.

    What it controls for: multilingual encoders place each language around its own offset
    (Libovický et al. 2020); removing it is the cheapest possible "alignment".  A transfer
    method whose low-tier gain this control matches has not shown that it learns more than
    the per-language offset.

    Parameters
    ----------
    sample_size : int
        Sentences per language for mu_l (default 1000; all of them when fewer).
    renormalize : bool
        Re-normalise centred vectors to unit length (default true: scores are cosines, as
        Libovický et al. compare centred representations).

    Example
    -------
    >>> encoder = LanguageCentring({"sample_size": 500}).fit(ctx)     # doctest: +SKIP
    >>> encoder.center(encoder.teacher.encode_documents(texts, "l1"), "l1").mean(0)  # ~0 on S_l  # doctest: +SKIP
    """

    version = "1.0"
    citation = """@inproceedings{libovicky2020language,
  title = {On the Language Neutrality of Pre-trained Multilingual Representations},
  author = {Libovick{\\'y}, Jind{\\v{r}}ich and Rosa, Rudolf and Fraser, Alexander},
  booktitle = {Findings of the Association for Computational Linguistics: EMNLP 2020},
  pages = {1663--1674},
  year = {2020}
}"""
    kind = "dense"
    control = "control: training-free per-language centring"

    def fit(self, ctx: FitContext) -> "CentredEncoder":
        cfg = self.config
        bench, teacher = ctx.benchmark, ctx.require_teacher()
        means: dict[str, torch.Tensor] = {}
        sizes: dict[str, int] = {}
        for lang in dict.fromkeys([bench.pivot, *bench.languages]):
            texts = estimation_texts(bench, lang)
            if not texts:
                raise ValueError(
                    f"method language-centring: language {lang!r} has no bitext sentences to estimate its mean from; "
                    "give the benchmark bitext for it (e.g. bitext_dir/<lang>.tsv) or drop the method"
                )
            n = min(cfg.sample_size, len(texts))
            pick = sorted(ctx.rng.choice(len(texts), size=n, replace=False).tolist())
            emb = teacher.encode_documents([texts[i] for i in pick], lang)  # (n, H)
            means[lang] = emb.float().mean(0).cpu()  # (H,)
            sizes[lang] = n
        ctx.diagnostics["centring"] = {
            "source": "bitext (each language's own side)",
            "sentences": sizes,
            "mean_norm": {lang: round(float(m.norm()), 6) for lang, m in means.items()},
        }
        return CentredEncoder(ctx.teacher, means, renormalize=cfg.renormalize)


class CentredEncoder:
    """An :class:`harness.plugin.Encoder`: the teacher's embeddings minus the language's mean.

    ``means``: language -> ``(H,)`` mean embedding.  Its document side has its own identity
    (the teacher's, the language's mean and ``renormalize``), so its index is cached and shared
    by every language whose documents are in one language (cross-lingual mode: the pivot's).
    """

    def __init__(self, teacher: Any, means: Mapping[str, "torch.Tensor"], *, renormalize: bool = True):
        self.teacher = teacher
        self.means = dict(means)
        self.renormalize = renormalize
        self.unit_norm = renormalize  # without renormalize, scores are raw inner products (the harness checks norms)

    def center(self, emb: "torch.Tensor", language: str) -> "torch.Tensor":
        """``emb - mu_language`` (``(n, H)``), re-normalised to unit length if ``renormalize``."""
        import torch

        if language not in self.means:
            raise KeyError(
                f"language-centring: no mean embedding for language {language!r} (known: {sorted(self.means)})"
            )
        out = emb.float() - self.means[language].to(emb.device)  # (n, H)
        return torch.nn.functional.normalize(out, dim=-1) if self.renormalize else out

    def encode_queries(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self.center(self.teacher.encode_queries(texts, language), language)

    def encode_documents(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self.center(self.teacher.encode_documents(texts, language), language)

    def save_fitted(self, directory: Any) -> None:
        """Fit-cache hook (:mod:`harness.fitted`): the means (safetensors) and ``renormalize``; the teacher is the seed's."""
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file({lang: m.contiguous() for lang, m in self.means.items()}, str(d / "means.safetensors"))
        (d / "centring.json").write_text(json.dumps({"renormalize": self.renormalize}), encoding="utf-8")

    @classmethod
    def load_fitted(cls, directory: Any, ctx: FitContext) -> "CentredEncoder":
        """Fit-cache hook: the saved means over the seed's teacher (``ctx.teacher``)."""
        from safetensors.torch import load_file

        d = Path(directory)
        meta = json.loads((d / "centring.json").read_text(encoding="utf-8"))
        return cls(ctx.teacher, load_file(str(d / "means.safetensors")), renormalize=bool(meta["renormalize"]))

    def document_identity(self, language: str) -> str | None:
        from harness.index import document_identity

        base = document_identity(self.teacher, language)
        if base is None or language not in self.means:
            return None
        h = hashlib.sha256(f"language-centring:{base}:{self.renormalize}:".encode())
        h.update(self.means[language].numpy().tobytes())
        return h.hexdigest()
