"""``ot-oracle``: OT distillation whose transport plan is the benchmark's true word alignment (a positive control)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from harness.errors import ConfigError
from harness.fitted import SavesFittedRetriever
from harness.plugin import Encoder, FitContext, Method
from harness.registry import register_method
from harness_methods._alignment import AlignmentConfig, AlignmentStep, bitext_languages, fit_alignment

if TYPE_CHECKING:
    import torch

__all__ = ["OTOracle", "OTOracleConfig"]


class OTOracleConfig(AlignmentConfig):
    """Options of ``ot-oracle``: the shared alignment options plus the token options of ``ot-distill``
    (same defaults, so the two differ only in where the plan comes from)."""

    layer: int = Field(-1, ge=-64, le=64, description="hidden layer whose token vectors are aligned (-1: last)")
    exclude_special_tokens: bool = Field(True, description="give [CLS]/[SEP]-like tokens zero mass (as padding)")
    center_tokens: bool = Field(
        True, description="subtract each side's mean content-token vector (over the batch) before the cosine cost"
    )


class _OracleObjective:
    """``L_align = 1/B' sum_b <T^true_b, C_b>`` over the pairs with a non-empty true plan."""

    def __init__(self, cfg: OTOracleConfig):
        self.cfg = cfg
        self.pairs = self.empty = 0

    def __call__(self, step: AlignmentStep) -> "torch.Tensor":
        from harness_methods._ot import cosine_cost
        from harness_methods._tokens import aligned_tokens, oracle_plans, word_ids

        cfg, batch = self.cfg, step.batch
        if batch.alignments is None:
            raise ValueError("ot-oracle: a bitext batch carries no true word alignment")
        sides = aligned_tokens(step, cfg.layer, cfg.exclude_special_tokens, cfg.center_tokens)
        n, m = sides.teacher.shape[1], sides.student.shape[1]
        p_words = word_ids(step.teacher.tokenizer, batch.pivot, step.max_length, n)
        o_words = word_ids(step.student.tokenizer, batch.other, step.max_length, m)
        plans, empty = oracle_plans(batch.alignments, p_words, o_words, sides.teacher_mask, sides.student_mask)
        plans = plans.to(sides.student.device)  # (B, n, m), rows of a pair sum to 1 (or 0 when empty)
        self.pairs += len(batch.pivot)
        self.empty += empty
        cost = cosine_cost(sides.teacher.detach(), sides.student)  # (B, n, m), live on the student side
        per_pair = (plans * cost).sum(dim=(1, 2))  # (B,)
        kept = max(1, len(batch.pivot) - empty)
        return per_pair.sum() / kept


@register_method("ot-oracle")
class OTOracle(SavesFittedRetriever, Method[OTOracleConfig]):
    """OT distillation with the true word alignment as its transport plan (a positive control).

    The same student, teacher, cost, layer, anchor and training loop as ``ot-distill``; only
    the plan differs.  For a bitext pair with true word alignment ``A`` (known by the
    embedded benchmark: which words render the same concept), the plan ``T^true`` puts mass
    ``1/(|A'| n_a n_c)`` on every token pair of every aligned word pair ``(a, c)``
    (:func:`harness_methods._tokens.oracle_plans`), and the objective is ::

        L = 1/B' sum_b <T^true_b, C_b>  +  lambda * L_anchor,
        C_ij = 1 - cos(t_i - mean(t), s_j - mean(s))

    with ``B'`` the pairs whose plan is not empty.  ``ot-distill`` has to find its plan from
    the models' own token vectors (``T* = argmin <T, C> - epsilon H(T)``); here it is given.
    So ``ot-oracle`` answers "can token-level distillation close the gap *when the alignment
    is right*?": if it lifts the low tier and ``ot-distill`` does not, OT's plan is what fails
    in this world, not token distillation itself.  Run it next to ``ot-distill`` as a control;
    it is not a method a user could run on real bitext (which has no true alignment): on a
    benchmark without alignments it is refused before training.

    Example
    -------
    >>> encoder = OTOracle({"epochs": 2}).fit(ctx)   # doctest: +SKIP
    """

    version = "1.0"
    citation = """@inproceedings{huang2023optical,
  title = {Improving Cross-lingual Information Retrieval on Low-Resource Languages via Optimal Transport Distillation},
  author = {Huang, Zhiqi and Yu, Puxuan and Allan, James},
  booktitle = {Proceedings of the Sixteenth ACM International Conference on Web Search and Data Mining (WSDM '23)},
  year = {2023},
  eprint = {2301.12566},
  archivePrefix = {arXiv},
  note = {ot-oracle: the harness's positive control, the true alignment in place of OPTICAL's plan}
}"""
    kind = "dense"
    control = "positive control: the true word alignment as the transport plan"
    cost = 10

    def fit(self, ctx: FitContext) -> Encoder:
        cfg = self.config
        if cfg.shuffle_bitext:
            raise ConfigError(
                f"methods.{ctx.method}.shuffle_bitext",
                True,
                "false",
                hint="shuffled pairs have no true alignment; use the shuffled control of ot-distill",
            )
        missing = [
            lang
            for lang, pairs in bitext_languages(ctx, cfg, ctx.method).items()
            if any(getattr(p, "alignment", None) is None for p in pairs)
        ]
        if missing:
            raise ConfigError(
                f"methods.{ctx.method}",
                "ot-oracle",
                "a benchmark whose bitext carries true word alignments (the synthetic benchmark)",
                hint=f"benchmark {ctx.benchmark.name!r} has no true alignment for {missing}; ot-oracle is a "
                "positive control of the embedded world, not a method for real bitext",
            )
        objective = _OracleObjective(cfg)
        student, stats = fit_alignment(ctx, cfg, objective)
        ctx.diagnostics.update(stats.info(oracle_pairs=objective.pairs, oracle_empty_plans=objective.empty))
        return student
