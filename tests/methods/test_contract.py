"""The contract every registered method plugin must keep (parametrised over the registry)."""

from __future__ import annotations

import json

import pytest
import torch

from harness import registry
from harness.plugin import Encoder, Method, Searcher

METHODS = registry.available_methods()


def _check_contract(cls: type[Method], world) -> None:
    # ---- config round trip (Python and JSON) and closedness
    cfg = cls.Config()
    assert cls.Config(**cfg.model_dump()) == cfg
    assert cls.Config.model_validate_json(cfg.model_dump_json()) == cfg
    assert json.loads(cfg.model_dump_json()) == cfg.model_dump(mode="json")
    with pytest.raises(ValueError):
        cls.Config(**{"no_such_option_": 1})
    assert cls(cfg.model_dump()).config == cfg

    # ---- fit returns a working retriever on every language, deterministically per seed
    def fit(seed: int):
        return cls(cfg).fit(world.ctx(cls.name, seed, needs_teacher=cls.needs_teacher))

    first, again = fit(0), fit(0)
    bench = world.benchmark
    for lang in bench.languages:
        data = bench.language_data(lang)
        qids, dids = sorted(data.queries), sorted(data.corpus)
        if cls.kind == "dense":
            assert isinstance(first, Encoder)
            q = first.encode_queries([data.queries[i] for i in qids], lang)
            d = first.encode_documents([data.corpus[i] for i in dids], lang)
            assert q.shape[0] == len(qids) and d.shape[0] == len(dids) and q.shape[1] == d.shape[1]
            assert q.dtype == torch.float32 and q.device.type == "cpu"
            torch.testing.assert_close(q.norm(dim=1), torch.ones(len(qids)), atol=1e-4, rtol=0)
            torch.testing.assert_close(d.norm(dim=1), torch.ones(len(dids)), atol=1e-4, rtol=0)
            torch.testing.assert_close(
                again.encode_queries([data.queries[i] for i in qids], lang), q, atol=1e-6, rtol=0
            )
            torch.testing.assert_close(
                again.encode_documents([data.corpus[i] for i in dids], lang), d, atol=1e-6, rtol=0
            )
        else:
            assert isinstance(first, Searcher)
            run = first.search({i: data.queries[i] for i in qids}, data, 10)
            assert set(run) == set(qids)
            assert all(len(r) <= 10 and set(r) <= set(dids) for r in run.values())
            assert any(run.values())
            assert again.search({i: data.queries[i] for i in qids}, data, 10) == run

    # ---- a fit-cached method's saved fit loads back and encodes exactly as the fitted one (harness.fitted)
    if cls.fit_cached():
        import tempfile
        from pathlib import Path

        method = cls(cfg)
        with tempfile.TemporaryDirectory() as tmp:
            method.save(first, Path(tmp) / "fit")
            loaded = method.load(Path(tmp) / "fit", world.ctx(cls.name, 0, needs_teacher=cls.needs_teacher))
            for lang in bench.languages:
                data = bench.language_data(lang)
                qs, ds = [data.queries[i] for i in sorted(data.queries)], [data.corpus[i] for i in sorted(data.corpus)]
                assert torch.equal(loaded.encode_queries(qs, lang), first.encode_queries(qs, lang)), lang
                assert torch.equal(loaded.encode_documents(ds, lang), first.encode_documents(ds, lang)), lang


@pytest.mark.parametrize("name", METHODS)
def test_method_contract(name, tiny_world):
    _check_contract(registry.get_method(name), tiny_world)


def test_the_built_in_methods_are_registered():
    builtin = {
        "zero-shot",
        "bm25",
        "ot-distill",
        "contrastive",
        "translate-test",
        "translate-train",
        "language-centring",
    }
    assert builtin <= set(METHODS)


def test_example_plugin_keeps_the_contract(example_plugin, tiny_world):
    _check_contract(registry.get_method("lang-center"), tiny_world)
