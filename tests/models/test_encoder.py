"""BiEncoder over a tiny locally saved BERT: pooling, normalisation, truncation, batching,
padding invariance, loading errors and the save/load round trip."""

from __future__ import annotations

import pytest
import torch

from harness.errors import ConfigError, DataUnavailableError
from harness.models.encoder import BiEncoder
from harness.plugin import Encoder

ATOL = 1e-5
TEXTS = [
    "the long river of africa is big",
    "lion",
    "blue water in the city",
    "mto simba mlima nile",
    "the small red mountain and the green sea of africa is long and big",
    "water",
    "rivers",
]


@pytest.fixture(scope="module", autouse=True)
def _few_threads():
    """Two shared CPU cores: one intra-op thread keeps timings sane (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def enc(tiny_model_dir) -> BiEncoder:
    return BiEncoder.from_pretrained(tiny_model_dir)


def test_loaded_encoder_has_the_saved_options_and_is_an_encoder(enc):
    assert (enc.pooling, enc.normalize, enc.max_length, enc.dim) == ("mean", True, 32, 32)
    assert isinstance(enc, Encoder)
    assert enc.device == torch.device("cpu") and not enc.model.training


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_embeddings_are_unit_norm_float32_cpu(tiny_model_dir, pooling):
    e = BiEncoder.from_pretrained(tiny_model_dir, pooling=pooling)
    out = e.encode(TEXTS, batch_size=3)  # (7, 32)
    assert out.shape == (len(TEXTS), 32) and out.dtype == torch.float32 and out.device.type == "cpu"
    torch.testing.assert_close(out.norm(dim=1), torch.ones(len(TEXTS)), atol=ATOL, rtol=0)
    raw = BiEncoder.from_pretrained(tiny_model_dir, pooling=pooling, normalize=False).encode(TEXTS)
    assert (raw.norm(dim=1) - 1).abs().max() > 0.1  # really unnormalised without normalize
    torch.testing.assert_close(torch.nn.functional.normalize(raw, dim=1), out, atol=ATOL, rtol=0)


def test_mean_is_the_masked_mean_of_the_last_layer_and_cls_its_first_token(enc):
    feats = enc.tokenize(TEXTS[:3])
    with torch.no_grad():
        hidden = enc.model(**feats).last_hidden_state  # (3, L, 32)
        mean = enc.forward(feats)  # (3, 32)
        enc.pooling = "cls"
        try:
            cls = enc.forward(feats)
        finally:
            enc.pooling = "mean"
    m = feats["attention_mask"].unsqueeze(-1).float()  # (3, L, 1)
    expected_mean = (hidden * m).sum(1) / m.sum(1)
    torch.testing.assert_close(mean, torch.nn.functional.normalize(expected_mean, dim=1), atol=ATOL, rtol=0)
    torch.testing.assert_close(cls, torch.nn.functional.normalize(hidden[:, 0], dim=1), atol=ATOL, rtol=0)
    assert (mean - cls).abs().max() > 0.05  # the two poolings really differ
    assert feats["attention_mask"][1].sum() < feats["attention_mask"][0].sum()  # the batch was padded


def test_encode_keeps_input_order_and_equals_per_text_embeddings(enc):
    together = enc.encode(TEXTS, batch_size=2)  # length-sorted, several batches
    alone = torch.cat([enc.encode([t]) for t in TEXTS])
    torch.testing.assert_close(together, alone, atol=ATOL, rtol=0)
    # Order really matters: the embeddings of different texts are not interchangeable.
    assert (together[0] - together[1]).abs().max() > 0.05
    reversed_ = enc.encode(TEXTS[::-1], batch_size=2)
    torch.testing.assert_close(reversed_, together.flip(0), atol=ATOL, rtol=0)
    torch.testing.assert_close(enc.encode_queries(TEXTS, "sw"), together, atol=ATOL, rtol=0)
    torch.testing.assert_close(enc.encode_documents(TEXTS, "sw"), together, atol=ATOL, rtol=0)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_padding_does_not_change_a_texts_embedding(tiny_model_dir, pooling):
    e = BiEncoder.from_pretrained(tiny_model_dir, pooling=pooling)
    short, long_ = "lion", "the small red mountain and the green sea of africa is long"
    with torch.no_grad():
        alone = e.embed([short])  # (1, 32), no padding
        padded = e.embed([short, long_])  # (2, 32), "lion" padded by 9+ tokens
    assert e.tokenize([short, long_])["attention_mask"][0].sum() < e.tokenize([short, long_])["attention_mask"][1].sum()
    torch.testing.assert_close(padded[:1], alone, atol=ATOL, rtol=0)


def test_max_length_truncates_to_the_first_tokens(tiny_model_dir, tiny_bert):
    e = BiEncoder.from_pretrained(tiny_model_dir, max_length=8)
    words = ["water", "lion", "river", "sea", "city", "blue", "red", "green", "big", "small", "long", "nile"]
    assert all(w in tiny_bert.vocab for w in words)  # one token each
    feats = e.tokenize([" ".join(words)])
    assert feats["input_ids"].shape == (1, 8)  # [CLS] + 6 words + [SEP]
    assert feats["input_ids"][0, -1].item() == tiny_bert.vocab.index("[SEP]")
    full, first6 = e.encode([" ".join(words), " ".join(words[:6])])
    torch.testing.assert_close(full, first6, atol=ATOL, rtol=0)
    longer = BiEncoder.from_pretrained(tiny_model_dir, max_length=16).encode([" ".join(words)])[0]
    assert (longer - full).abs().max() > 1e-3  # without truncation the embedding differs


def test_save_load_round_trip_preserves_options_and_weights(tmp_path, tiny_bert):
    e = BiEncoder(tiny_bert.model(seed=3), tiny_bert.tokenizer(), pooling="cls", normalize=False, max_length=20)
    e.save_pretrained(tmp_path / "m")
    loaded = BiEncoder.from_pretrained(tmp_path / "m")
    assert (loaded.pooling, loaded.normalize, loaded.max_length) == ("cls", False, 20)
    torch.testing.assert_close(loaded.encode(TEXTS), e.encode(TEXTS), atol=ATOL, rtol=0)
    assert loaded.tokenizer(TEXTS[0])["input_ids"] == e.tokenizer(TEXTS[0])["input_ids"]
    override = BiEncoder.from_pretrained(tmp_path / "m", pooling="mean", normalize=True, max_length=12)
    assert (override.pooling, override.normalize, override.max_length) == ("mean", True, 12)


def test_seeded_construction_is_reproducible_and_leaves_the_global_rng_alone(tiny_bert):
    state = torch.random.get_rng_state()
    a, b, c = tiny_bert.model(seed=1), tiny_bert.model(seed=1), tiny_bert.model(seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    wa, wb, wc = (m.embeddings.word_embeddings.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_copy_is_independent(enc):
    twin = enc.copy()
    with torch.no_grad():
        twin.model.embeddings.word_embeddings.weight.add_(1.0)
    assert not torch.allclose(twin.encode(TEXTS[:2]), enc.encode(TEXTS[:2]))
    assert (twin.pooling, twin.max_length) == (enc.pooling, enc.max_length)


def test_encode_restores_training_mode_and_builds_no_graph(enc):
    enc.train()
    try:
        out = enc.encode(TEXTS[:2])
        assert enc.training and enc.model.training
        assert not out.requires_grad
        assert enc.embed(TEXTS[:2]).requires_grad  # embed keeps gradients for training
    finally:
        enc.eval()
    assert enc.encode([]).shape == (0, 32)


def test_nonexistent_or_empty_model_dir_is_data_unavailable(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(DataUnavailableError) as ei:
        BiEncoder.from_pretrained(missing)
    msg = str(ei.value)
    assert str(missing) in msg and "config.json" in msg and "HF_HOME" in msg
    assert "does not exist" in msg
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataUnavailableError, match="empty"):
        BiEncoder.from_pretrained(tmp_path / "empty")


def test_invalid_options_are_config_errors(tiny_model_dir, tiny_bert):
    with pytest.raises(ConfigError, match="model.pooling.*'max'"):
        BiEncoder.from_pretrained(tiny_model_dir, pooling="max")
    with pytest.raises(ConfigError, match="model.max_length"):
        BiEncoder(tiny_bert.model(), tiny_bert.tokenizer(), max_length=2)


def test_max_length_beyond_the_position_embeddings_is_a_config_error(tiny_bert):
    model = tiny_bert.model(max_position_embeddings=16)
    with pytest.raises(ConfigError, match="max_position_embeddings"):
        BiEncoder(model, tiny_bert.tokenizer(), max_length=128)
    ok = BiEncoder(model, tiny_bert.tokenizer(), max_length=16)
    assert ok.encode([" ".join(["water"] * 40)]).shape == (1, 32)


def test_save_pretrained_writes_a_directory_transformers_can_read_alone(tmp_path, tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    tiny_bert.save(tmp_path / "m", pooling="mean", max_length=24)
    assert (tmp_path / "m" / "config.json").is_file() and (tmp_path / "m" / "harness_biencoder.json").is_file()
    model = AutoModel.from_pretrained(tmp_path / "m", local_files_only=True)
    tok = AutoTokenizer.from_pretrained(tmp_path / "m", local_files_only=True)
    assert model.config.hidden_size == 32 and tok.convert_tokens_to_ids("lion") == tiny_bert.vocab.index("lion")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_encode_with_bf16_autocast_matches_cpu(tiny_model_dir):
    cpu = BiEncoder.from_pretrained(tiny_model_dir).encode(TEXTS, batch_size=3)  # (7, 32)
    gpu_enc = BiEncoder.from_pretrained(tiny_model_dir, device="cuda")
    assert gpu_enc.device.type == "cuda"
    gpu = gpu_enc.encode(TEXTS, batch_size=3)
    assert gpu.device.type == "cpu" and gpu.dtype == torch.float32
    torch.testing.assert_close(gpu.norm(dim=1), torch.ones(len(TEXTS)), atol=1e-4, rtol=0)
    assert (gpu * cpu).sum(1).min() > 0.99  # cosine to the float32 CPU embedding
    alone = torch.cat([gpu_enc.encode([t]) for t in TEXTS])
    assert (alone * gpu).sum(1).min() > 0.995  # input order kept under length sorting
    assert (gpu @ cpu.T).argmax(1).tolist() == list(range(len(TEXTS)))


@pytest.mark.parametrize("layer", [0, 1, -2])
def test_a_cut_forward_equals_the_full_forwards_hidden_state_bit_for_bit(enc, layer):
    """token_embeddings(layer) runs only the layers below: same values and gradients, exactly."""
    feats = enc.tokenize(TEXTS)
    student = enc.copy()
    student.eval()  # no dropout: both forwards are deterministic
    full = student.model(**feats, output_hidden_states=True).hidden_states[layer]
    full.pow(2).sum().backward()
    grads_full = {n: p.grad.clone() for n, p in student.named_parameters() if p.grad is not None}
    student.zero_grad(set_to_none=True)
    cut = student.token_embeddings(feats, layer)
    cut.pow(2).sum().backward()
    grads_cut = {n: p.grad.clone() for n, p in student.named_parameters() if p.grad is not None}
    assert torch.equal(cut, full)
    assert grads_cut.keys() == grads_full.keys() and len(grads_cut) > 0
    assert all(torch.equal(grads_cut[n], grads_full[n]) for n in grads_full)
    assert len(student.model.encoder.layer) == 2  # the layer list is restored


def test_features_from_ids_equal_the_tokenizers_padded_batch(enc):
    feats = enc.tokenize(TEXTS, 8)
    again = enc.features_from_ids(enc.tokenizer(TEXTS, truncation=True, max_length=8)["input_ids"])
    assert feats.keys() == again.keys()
    assert all(torch.equal(feats[k], again[k]) for k in feats)


def test_the_alignment_text_table_collates_and_holds_the_teachers_own_outputs(tiny_model_dir):
    """The alignment methods' once-per-run table: the tokenizer's padded features, and the
    teacher's embeddings / hidden states per text (to float rounding: other batch shapes)."""
    from harness_methods._alignment import TextTable

    teacher = BiEncoder.from_pretrained(tiny_model_dir)
    teacher.eval()
    texts = ["the long river", "lion", "blue water in the city of africa", "lion", "mto simba mlima nile"]
    table = TextTable(teacher, texts, max_length=6, batch_size=2)
    assert len(table) == 4  # distinct texts
    batch = ["lion", "mto simba mlima nile", "the long river"]
    feats = teacher.tokenize(batch, 6)
    got = table.features(batch)
    assert all(torch.equal(got[k], feats[k]) for k in feats)
    with torch.no_grad():
        emb = teacher(feats)
        states = teacher.model(**feats, output_hidden_states=True).hidden_states[1]
    torch.testing.assert_close(table.embeddings(batch), emb, atol=1e-5, rtol=0)
    tokens = table.tokens(batch, 1)
    mask = feats["attention_mask"].bool()
    torch.testing.assert_close(tokens[mask], states[mask], atol=1e-5, rtol=0)
    assert (tokens[~mask] == 0).all()  # padding carries zeros (it carries no OT mass)


def test_a_text_table_for_a_short_budget_computes_per_batch(tiny_model_dir):
    """Fewer lookups than rows (a short run over a large bitext): no whole-table teacher pass;
    each batch's outputs are the teacher's own forward on that batch, exactly."""
    from harness_methods._alignment import TextTable

    teacher = BiEncoder.from_pretrained(tiny_model_dir)
    teacher.eval()
    table = TextTable(teacher, TEXTS, max_length=8, batch_size=2, lookups=2)
    batch = TEXTS[:2]
    feats = teacher.tokenize(batch, 8)
    with torch.no_grad():
        emb = teacher(feats)
        states = teacher.token_embeddings(feats, 1)
    assert not table.worth_a_pass
    assert torch.equal(table.embeddings(batch), emb)
    assert torch.equal(table.tokens(batch, 1), states)
    assert table._embeddings is None and table._tokens[1] is None  # nothing kept
