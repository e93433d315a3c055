"""A fitted model is cached by its training inputs only (stage ``fit``).

A tiny local benchmark (``tests/fixtures/local``, a 1-layer BERT): editing one passage, or one
qrels line, of the evaluated data re-evaluates the stored fit of the trained methods (no
training: the cache log says ``fit hit``, the cells say ``fit_cache = loaded``) and changes
the edited language's results; an edit of the bitext re-trains.  A fit-cached method's
budget-curve checkpoints are stored with the fit and re-evaluated from it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "local"


def _tiny_bert(path: Path) -> Path:
    """The tiny BERT of ``tests/models/conftest.py`` (loaded by path: another directory's conftest)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("models_conftest", FIXTURE.parents[1] / "models" / "conftest.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.save_tiny_biencoder(path, pooling="mean", max_length=32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return _tiny_bert(tmp_path_factory.mktemp("fit-cache-bert") / "model")


def _config(data: Path, model: Path):
    from harness.config import config_from_dict

    langs = {
        lang: {
            "corpus": str(data / lang / "corpus.tsv"),
            "queries": str(data / lang / "queries.tsv"),
            "qrels": str(data / lang / "qrels.txt"),
            "tier": tier,
        }
        for lang, tier in (("sw", "low"), ("en", "high"))
    }
    return config_from_dict(
        {
            "seeds": [0],
            "device": "cpu",
            "metrics": ["ndcg@10", "mrr@10"],
            "benchmark": {
                "name": "local",
                "pivot": "en",
                "train_pairs": str(data / "train.tsv"),
                "bitext_dir": str(data / "bitext"),
                "languages": langs,
            },
            "model": {"base": str(model), "max_length": 32},
            "teacher": {"epochs": 1, "batch_size": 2, "max_length": 32},
            "training": {"num_threads": 1},
            "methods": {
                "zero-shot": {},
                "ot-distill": {"epochs": 4, "batch_size": 2, "eval_at": [2.0], "max_length": 32},
                "language-centring": {},
            },
        }
    )


def _run(data: Path, model: Path, cache_root: Path) -> tuple[pd.DataFrame, dict[str, dict], pd.DataFrame]:
    """Every cell of the matrix (cached cells loaded), as the runner does: per-query results,
    each method's info, the budget-curve rows."""
    from harness.cache import Cache
    from harness.engine import Engine

    engine = Engine(_config(data, model), Cache(cache_root))
    frames, infos, budgets = [], {}, []
    for spec in engine.plan():
        out = engine.load_cached_cell(spec)
        if out is None:
            out = engine.run_cell(spec)
            assert out.status == "done", out.error
            engine.store_cell(out)
        frames.append(out.results)
        infos[spec.method] = out.info
        if out.budgets is not None:
            budgets.append(out.budgets)
    return pd.concat(frames, ignore_index=True), infos, pd.concat(budgets, ignore_index=True)


def _fit_events(cache_root: Path) -> list[tuple[str, str]]:
    from harness.index import read_cache_log

    return [(r["event"], r["method"]) for r in read_cache_log(cache_root) if r["stage"] == "fit"]


def _lang(results: pd.DataFrame, method: str, lang: str) -> pd.DataFrame:
    sel = results[(results["method"] == method) & (results["language"] == lang)]
    return sel.sort_values(["query_id", "metric"]).reset_index(drop=True)


@pytest.mark.slow  # about 5 s: a teacher, two fitted methods, four runs of a 2-language matrix
def test_an_evaluation_edit_re_evaluates_the_stored_fit_and_a_bitext_edit_re_trains(model_dir, tmp_path):
    from harness.cache import Cache
    from harness.engine import Engine

    data = Path(shutil.copytree(FIXTURE, tmp_path / "data"))
    cache = tmp_path / "cache"
    first, info, curve = _run(data, model_dir, cache)
    trained = {"ot-distill", "language-centring"}
    assert sorted(_fit_events(cache)) == sorted(("computed", m) for m in trained)
    assert {m: info[m]["fit_cache"] for m in trained} == {m: "computed" for m in trained}
    assert info["zero-shot"]["fit_cache"].startswith("off:")  # zero-shot implements no save/load
    assert sorted(curve["budget_steps"].unique().tolist()) == [3, 6]  # checkpoint at 2 of 4 epochs, then final

    # one passage of sw's corpus: the fits are loaded (no training), sw's results change, en's do not
    corpus = data / "sw" / "corpus.tsv"
    corpus.write_text(corpus.read_text().replace("Mto Nile ni mto mrefu zaidi barani Afrika.", "Simba mlima wapi."))
    second, info2, curve2 = _run(data, model_dir, cache)
    assert sorted(_fit_events(cache)[2:]) == sorted(("hit", m) for m in trained)
    assert {m: info2[m]["fit_cache"] for m in trained} == {m: "loaded" for m in trained}
    assert info2["ot-distill"]["loss_curve"] == info["ot-distill"]["loss_curve"]  # the fit's diagnostics travel
    for m in trained | {"zero-shot"}:
        pd.testing.assert_frame_equal(_lang(second, m, "en"), _lang(first, m, "en"))
        assert not _lang(second, m, "sw")["value"].equals(_lang(first, m, "sw")["value"]), m
    # the stored checkpoint is evaluated again: en's curve identical, sw's follows the edit
    en = curve2[curve2["language"] == "en"].reset_index(drop=True)
    pd.testing.assert_frame_equal(en, curve[curve["language"] == "en"].reset_index(drop=True))
    assert sorted(curve2["budget_steps"].unique().tolist()) == [3, 6]

    # one qrels line of sw: loaded again; sw's scores follow the judgements
    qrels = data / "sw" / "qrels.txt"
    qrels.write_text(qrels.read_text().replace("sw-q2 0 sw-d3 1", "sw-q2 0 sw-d1 1"))
    third, info3, _ = _run(data, model_dir, cache)
    assert sorted(_fit_events(cache)[4:]) == sorted(("hit", m) for m in trained)
    for m in trained:
        assert info3[m]["fit_cache"] == "loaded"
        pd.testing.assert_frame_equal(_lang(third, m, "en"), _lang(first, m, "en"))
        assert not _lang(third, m, "sw")["value"].equals(_lang(second, m, "sw")["value"]), m

    # the bitext is a training input: an edit re-trains both methods
    bitext = data / "bitext" / "sw.tsv"
    bitext.write_text(bitext.read_text() + "the mountain\tmlima\n")
    _, info4, _ = _run(data, model_dir, cache)
    assert sorted(_fit_events(cache)[6:]) == sorted(("computed", m) for m in trained)
    assert {m: info4[m]["fit_cache"] for m in trained} == {m: "computed" for m in trained}

    # the fit key names training inputs only: the evaluated files are not in it
    engine = Engine(_config(data, model_dir), Cache(cache))
    key, cell = engine.fit_key("ot-distill", 0), engine.cell_key("ot-distill", 0)
    (data / "en" / "qrels.txt").write_text((data / "en" / "qrels.txt").read_text() + "en-q1 0 en-d1 1\n")
    again = Engine(_config(data, model_dir), engine.cache)
    assert again.fit_key("ot-distill", 0) == key
    assert again.cell_key("ot-distill", 0) != cell


def test_a_method_without_save_and_load_is_not_fit_cached():
    from harness.plugin import EmptyConfig, Method
    from harness.registry import METHODS

    class Plain(Method):
        Config = EmptyConfig

        def fit(self, ctx):
            return ctx.teacher

    assert not Plain.fit_cached()
    assert METHODS.get("ot-distill").fit_cached() and METHODS.get("language-centring").fit_cached()
    assert not METHODS.get("planted-effect").fit_cached()  # its fit reads query translations (evaluation data)
    with pytest.raises(NotImplementedError, match="does not save its fits"):
        Plain().save(object(), Path("."))
