"""Models are identified by content; a tokenizer that cannot read the benchmark is stopped before any work."""

from __future__ import annotations

import shutil

import pytest

from harness.errors import DataUnavailableError
from harness.models.identity import TokenizerCoverageWarning, check_tokenizer, model_fingerprint


def test_fingerprint_follows_the_files_not_the_path(tmp_path, tiny_bert):
    a = tiny_bert.save(tmp_path / "a", pooling="mean", max_length=32)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    memo = tmp_path / "digests.json"
    fa, fb = model_fingerprint(a, memo), model_fingerprint(b, memo)
    assert fa["sha256"] == fb["sha256"] and fa["kind"] == "dir"
    assert memo.is_file()  # digests remembered: an unchanged directory is hashed once
    vocab = next(p for p in b.iterdir() if p.name in ("tokenizer.json", "vocab.txt"))
    vocab.write_text(vocab.read_text().replace("river", "rivers"))
    assert model_fingerprint(b, memo)["sha256"] != fa["sha256"]  # fixing/editing the directory = a new identity


def test_missing_directory_and_unknown_hub_name_are_data_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(DataUnavailableError, match="does not exist"):
        model_fingerprint(tmp_path / "nope")
    with pytest.raises(DataUnavailableError, match="local Hugging Face cache"):
        model_fingerprint("some-org/some-model-that-is-not-cached")


def test_unknown_token_rate_warns_and_all_unknown_is_an_error(tiny_bert):
    tok = tiny_bert.tokenizer()
    assert check_tokenizer(tok, ["the river is long", "a big lion"], where="x") == 0.0
    with pytest.warns(TokenizerCoverageWarning, match=r"of the word pieces"):
        rate = check_tokenizer(tok, ["the river zzzq", "qqqx lion"], where="x")
    assert 0.05 < rate < 1
    with pytest.raises(DataUnavailableError, match="every word piece"):
        check_tokenizer(tok, ["zzzq qqqx", "xxyyq"], where="model.base on 'sw' queries")


def _config_over(model):
    """A tiny synthetic config whose base model is the directory ``model`` (zero-shot only)."""
    from harness.config import config_from_dict

    return config_from_dict(
        {
            "device": "cpu",
            "seeds": [0],
            "model": {"base": str(model), "max_length": 32},
            "benchmark": {
                "name": "synthetic",
                "queries": 20,
                "corpus_docs": 60,
                "n_concepts": 80,
                "n_topics": 4,
                "train_pairs": 40,
                "languages": {"en": "high", "h1": "high", "l1": "low", "l2": "low"},
                "pretrain_sentences": {"high": 20, "low": 10},
                "bitext_pairs": {"high": 10, "low": 10},
            },
            "methods": {"zero-shot": {}},
        }
    )


def test_engine_preflight_stops_a_model_without_tokenizer_files_before_any_work(tmp_path, tiny_bert):
    """A directory holding weights but no tokenizer: refused by preflight, not run to 'complete' with [UNK]s."""
    from harness.cache import Cache
    from harness.engine import Engine

    model = tiny_bert.save(tmp_path / "m", pooling="mean", max_length=32)
    for p in list(model.iterdir()):
        if "token" in p.name or p.name in ("vocab.txt", "special_tokens_map.json"):
            p.unlink()
    cfg = _config_over(model)
    engine = Engine(cfg, Cache(tmp_path / "cache"))
    with pytest.raises(DataUnavailableError, match="tokenizer"):
        engine.preflight()


def test_fingerprint_sees_a_same_size_weight_edit_with_the_mtime_restored(tmp_path, tiny_bert, monkeypatch):
    """Weights edited in place (same size, mtime put back): a new identity, though the memo knew the file."""
    import os
    import time

    import harness.corpus

    monkeypatch.setattr(harness.corpus, "RACY_NS", 0, raising=False)  # memoise even just-written files
    model = tiny_bert.save(tmp_path / "m", pooling="mean", max_length=32)
    time.sleep(0.05)  # past the file system clock's tick: the edit gets another ctime
    memo = tmp_path / "digests.json"
    before = model_fingerprint(model, memo)["sha256"]
    weights = next(p for p in model.iterdir() if p.suffix in (".safetensors", ".bin"))
    st = weights.stat()
    with open(weights, "r+b") as f:
        f.seek(st.st_size - 8)
        last = f.read(8)
        f.seek(st.st_size - 8)
        f.write(bytes(b ^ 0xFF for b in last))
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert weights.stat().st_mtime_ns == st.st_mtime_ns and weights.stat().st_size == st.st_size
    assert model_fingerprint(model, memo)["sha256"] != before


def test_weights_that_do_not_fit_the_declared_architecture_are_refused_before_any_work(tmp_path, tiny_bert):
    """config.json says llama over BERT weights: transformers would build a random Llama; refused, keys named."""
    import json

    from harness.cache import Cache
    from harness.engine import Engine
    from harness.models.encoder import BiEncoder
    from harness.models.identity import WeightsMismatchError

    model = tiny_bert.save(tmp_path / "m", pooling="mean", max_length=32)
    BiEncoder.from_pretrained(model)  # as saved: loads (an absent pooler is allowed)
    cfg = json.loads((model / "config.json").read_text())
    cfg.update(model_type="llama", architectures=["LlamaModel"])
    (model / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsMismatchError) as e:
        BiEncoder.from_pretrained(model)
    msg = str(e.value)
    assert "model_type 'llama'" in msg and "missing from the weights" in msg and "embed_tokens.weight" in msg
    assert "fit no parameter" in msg and "'embeddings." in msg
    config = _config_over(model)
    cache = Cache(tmp_path / "cache")
    with pytest.raises(WeightsMismatchError, match="do not load into the architecture"):
        Engine(config, cache).preflight()
    assert not (tmp_path / "cache" / "teacher").exists()
