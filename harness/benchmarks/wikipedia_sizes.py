"""Resource tiers from the size of each language's Wikipedia, the text mBERT was pre-trained on.

mBERT (Devlin et al., 2018; github.com/google-research/bert/blob/master/multilingual.md) was
pre-trained on the Wikipedias of 104 languages, so the size of a language's Wikipedia is the
usual measure of how well mBERT knows it (Wu & Dredze, "Are All Languages Created Equal in
mBERT?", RepL4NLP 2020, group languages by exactly this).

:data:`MBERT_WIKIPEDIA_TOKENS` is the "Tokens" column of Stephen Mayhew's table of Wikipedia
statistics, restricted to the rows it marks as mBERT languages: whitespace tokens of each
language's 20201001 Wikipedia dump after the XLM repository's ``get-data-wiki.sh`` cleaning
(github.com/mayhewsw/multilingual-data-stats, ``wiki/wiki.csv``; described in ``wiki/README.md``
and in mayhewsw.github.io/2020/12/20/multilingual-data-stats).  It is a 2020 snapshot, later than
the 2018 dumps mBERT saw; the ranking, not the exact size, is what the tiers use.

The tier rule (:data:`TIER_RULE`)::

    high:  tokens >= 100,000,000
    mid:   20,000,000 <= tokens < 100,000,000
    low:   tokens < 20,000,000

e.g. en, ar, fa high; fi, id, ko, hi, bn, te, th mid; sw, yo low.  A language not in the table
(not an mBERT language) has no tier here: give it one in ``[benchmark] tiers``.

>>> wikipedia_tier("sw"), wikipedia_tier("hi"), wikipedia_tier("en")
('low', 'mid', 'high')
"""

from __future__ import annotations

__all__ = ["MBERT_WIKIPEDIA_TOKENS", "TABLE_NAME", "TIER_RULE", "TABLE_SOURCE", "wikipedia_tier"]

#: The name of this table in ``[benchmark] tier_table``.
TABLE_NAME = "mbert-wikipedia"
TABLE_SOURCE = (
    "github.com/mayhewsw/multilingual-data-stats wiki/wiki.csv, column Tokens (20201001 Wikipedia dumps), "
    "rows marked as mBERT languages"
)
#: ``(tier, minimum tokens)`` from the highest tier down.
TIER_RULE: tuple[tuple[str, int], ...] = (("high", 100_000_000), ("mid", 20_000_000), ("low", 0))

#: Wikipedia code -> tokens of its 20201001 dump (mBERT languages only; see the module docstring).
MBERT_WIKIPEDIA_TOKENS: dict[str, int] = {
    "en": 2_622_505_044,
    "de": 946_132_694,
    "fr": 823_362_731,
    "ja": 712_594_813,
    "es": 688_970_215,
    "ru": 575_335_225,
    "it": 542_009_174,
    "ceb": 523_789_311,
    "sv": 360_709_245,
    "pt": 312_091_086,
    "nl": 297_460_303,
    "pl": 275_152_255,
    "zh": 269_492_468,
    "uk": 262_974_187,
    "ca": 237_367_425,
    "vi": 180_247_477,
    "ar": 169_126_089,
    "cs": 142_124_285,
    "he": 139_128_963,
    "hu": 131_870_740,
    "no": 109_282_992,
    "fa": 105_621_494,
    "sr": 100_162_403,
    "fi": 98_712_322,
    "id": 96_356_452,
    "ro": 83_624_589,
    "ko": 81_063_675,
    "el": 78_796_996,
    "tr": 75_354_794,
    "bg": 71_857_586,
    "ast": 65_983_513,
    "da": 65_038_779,
    "sh": 58_646_782,
    "hr": 54_599_725,
    "gl": 54_327_028,
    "war": 53_814_664,
    "eu": 46_487_007,
    "th": 44_215_268,
    "hi": 43_915_945,
    "sl": 42_511_205,
    "bn": 42_126_320,
    "ta": 41_522_292,
    "te": 40_619_645,
    "ms": 38_876_137,
    "sk": 38_600_297,
    "et": 38_424_418,
    "mk": 38_098_346,
    "az": 35_836_610,
    "be": 34_304_304,
    "lt": 32_775_980,
    "kk": 29_048_575,
    "nn": 26_608_287,
    "af": 25_947_892,
    "ml": 25_868_577,
    "ka": 24_307_093,
    "ur": 22_157_310,
    "kn": 21_500_253,
    "sq": 21_402_243,
    "lv": 20_613_699,
    "ce": 20_419_081,
    "bs": 18_064_480,
    "oc": 16_172_213,
    "cy": 16_162_792,
    "vo": 14_197_351,
    "hy": 13_911_288,
    "fy": 13_811_022,
    "ba": 12_887_502,
    "min": 12_644_376,
    "uz": 12_377_243,
    "pnb": 12_303_971,
    "my": 12_207_584,
    "tt": 11_169_207,
    "azb": 10_893_086,
    "ky": 10_723_374,
    "mr": 10_531_427,
    "new": 10_368_838,
    "la": 10_115_896,
    "pa": 9_848_083,
    "nds": 9_839_619,
    "br": 9_049_686,
    "tl": 8_721_524,
    "is": 8_532_518,
    "gu": 8_497_087,
    "mg": 7_913_989,
    "lb": 7_607_731,
    "tg": 7_129_512,
    "ne": 6_519_689,
    "an": 6_408_993,
    "jv": 6_399_283,
    "sw": 6_195_009,
    "sco": 6_185_288,
    "ga": 6_182_079,
    "lmo": 5_755_715,
    "io": 4_966_626,
    "su": 4_927_214,
    "pms": 4_853_067,
    "bar": 3_805_861,
    "cv": 3_132_272,
    "bpy": 2_957_793,
    "ht": 2_645_669,
    "scn": 2_204_233,
    "yo": 1_343_939,
}


def wikipedia_tier(language: str) -> str | None:
    """``language``'s tier by :data:`TIER_RULE`, or None when it is not in the table."""
    n = MBERT_WIKIPEDIA_TOKENS.get(language)
    if n is None:
        return None
    return next(tier for tier, least in TIER_RULE if n >= least)
