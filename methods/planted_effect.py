"""``planted-effect``: the teacher with a known share of each low-tier query's true translation blended in (a positive control)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from harness.errors import ConfigError
from harness.options import Options
from harness.plugin import FitContext, Method
from harness.registry import register_method

if TYPE_CHECKING:
    import torch

__all__ = ["PlantedEffect", "PlantedEffectConfig", "PlantedEncoder"]


class PlantedEffectConfig(Options):
    share: float = Field(
        0.5, ge=0.0, le=1.0, description="blend weight w of the true translation's teacher embedding (0: the teacher)"
    )
    tiers: tuple[str, ...] = Field(("low",), min_length=1, description="tiers whose queries get the blend")


def query_translations(benchmark: Any, languages: Sequence[str]) -> dict[str, dict[str, str]]:
    """``language -> {query text: its true pivot rendering}`` over every split and mode of ``benchmark``.

    Raises :class:`~harness.errors.ConfigError` when the benchmark does not know the translations
    (``LanguageData.query_translations`` is None: every real benchmark).
    """
    views = [benchmark.with_mode(m) for m in getattr(benchmark, "modes", ("monolingual",))]
    out: dict[str, dict[str, str]] = {}
    for lang in languages:
        table: dict[str, str] = {}
        for view in views:
            for split in getattr(view, "splits", ("test",)):
                data = view.language_data(lang, split) if split != "test" else view.language_data(lang)
                known = getattr(data, "query_translations", None)
                if known is None:
                    raise ConfigError(
                        "methods.planted-effect",
                        "planted-effect",
                        "a benchmark that knows each query's true translation (the synthetic benchmark)",
                        hint=f"benchmark {benchmark.name!r} gives no query translations for {lang!r}; the planted "
                        "effect is a positive control of the embedded world",
                    )
                for qid, text in data.queries.items():
                    table.setdefault(text, known[qid])
        out[lang] = table
    return out


@register_method("planted-effect")
class PlantedEffect(Method[PlantedEffectConfig]):
    """The seed's teacher with a planted, known-size improvement of the chosen tiers (no training; a control).

    For a query ``q`` of a language in ``tiers`` with true pivot translation ``tr(q)`` (known by
    the embedded world), the query embedding is ::

        f(q) = normalize((1 - w) * e(q) + w * e(tr(q)))

    and every other query and every document is embedded by the teacher ``e`` unchanged (so
    the teacher's document index serves it).  ``w = share``: at ``w = 0`` this is
    ``zero-shot``; at ``w = 1`` a low-tier query is replaced by its perfect translation, the
    ceiling of translate-test.  Between, it closes a share of the gap that grows with ``w``;
    the harness measures the realised reduction against ``zero-shot`` on the same queries, so
    a run with ``[question] treatment = "planted-effect"`` and ``comparator = "zero-shot"``
    must answer "yes" whenever that reduction is at least the effect the power section says
    the design detects.  A harness that cannot see this effect cannot support a "no" about
    the real methods.

    The blend helps in cross-lingual mode, where documents are in the pivot; in monolingual
    mode the translation's pivot embedding is compared with the low-tier language's own
    documents and the effect can be smaller or negative (stated beside the control in the report).

    Example
    -------
    >>> encoder = PlantedEffect({"share": 0.3}).fit(ctx)   # doctest: +SKIP
    """

    version = "1.0"
    citation = (
        "@misc{harness_planted, title={Planted-effect positive control of the xling-harness}, note={no publication}}"
    )
    kind = "dense"
    control = "positive control: a planted gap reduction of known size"

    def fit(self, ctx: FitContext) -> "PlantedEncoder":
        cfg = self.config
        bench = ctx.benchmark
        unknown = [t for t in cfg.tiers if t not in set(bench.tiers.values())]
        if unknown:
            raise ConfigError(
                f"methods.{ctx.method}.tiers",
                list(cfg.tiers),
                f"tiers of the benchmark: {sorted(set(bench.tiers.values()))}",
            )
        langs = [lang for lang in bench.languages if bench.tiers[lang] in cfg.tiers and lang != bench.pivot]
        translations = query_translations(bench, langs)
        ctx.diagnostics["planted"] = {"share": cfg.share, "languages": langs}
        return PlantedEncoder(ctx.teacher, translations, cfg.share, bench.pivot)


class PlantedEncoder:
    """Queries of the planted languages blended with their translation; everything else the teacher's."""

    def __init__(self, teacher: Any, translations: Mapping[str, Mapping[str, str]], share: float, pivot: str):
        self.document_encoder = teacher
        self.translations = {k: dict(v) for k, v in translations.items()}
        self.share = share
        self.pivot = pivot

    def encode_queries(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        import torch

        e = self.document_encoder.encode_queries(texts, language)  # (n, H)
        table = self.translations.get(language)
        if table is None or self.share == 0.0:
            return e
        missing = [t for t in texts if t not in table]
        if missing:
            raise KeyError(
                f"planted-effect: {len(missing)} queries of {language!r} have no known translation (e.g. {missing[0]!r})"
            )
        tr = self.document_encoder.encode_queries([table[t] for t in texts], self.pivot)  # (n, H), pivot texts
        out = (1.0 - self.share) * e.float() + self.share * tr.float().to(e.device)  # (n, H)
        return torch.nn.functional.normalize(out, dim=-1)

    def encode_documents(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self.document_encoder.encode_documents(texts, language)
