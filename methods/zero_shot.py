"""``zero-shot``: the pivot-trained teacher applied to every language unchanged."""

from __future__ import annotations

from harness.plugin import EmptyConfig, Encoder, FitContext, Method
from harness.registry import register_method


@register_method("zero-shot")
class ZeroShot(Method[EmptyConfig]):
    """The seed's pivot-fine-tuned teacher, used as is in every language (no training).

    Objective: none.  Retrieval scores are ``score(q, d) = cos(f_T(q), f_T(d))`` with
    ``f_T`` the teacher's pooled, L2-normalised embedding; the teacher itself was trained
    on pivot-language (query, positive) pairs with InfoNCE (``harness.training``).  This is
    the reference every transfer method must beat in the low-resource tier.

    Example
    -------
    >>> encoder = ZeroShot().fit(ctx)          # doctest: +SKIP
    >>> encoder is ctx.teacher                 # doctest: +SKIP
    True
    """

    version = "1.0"
    citation = """@inproceedings{karpukhin2020dpr,
  title = {Dense Passage Retrieval for Open-Domain Question Answering},
  author = {Karpukhin, Vladimir and O{\\u{g}}uz, Barlas and Min, Sewon and Lewis, Patrick and Wu, Ledell and Edunov, Sergey and Chen, Danqi and Yih, Wen-tau},
  booktitle = {Proceedings of EMNLP},
  pages = {6769--6781},
  year = {2020}
}"""
    fit_uses_languages = False
    kind = "dense"

    def fit(self, ctx: FitContext) -> Encoder:
        return ctx.require_teacher()
