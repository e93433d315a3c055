"""A tiny BERT (2 layers, hidden 32) with a WordPiece tokenizer, saved locally.

The tokenizer is built with ``tokenizers`` (WordPiece over a 40-piece vocabulary, BERT
normaliser, pre-tokeniser and ``[CLS] $A [SEP]`` template) and wrapped in
``PreTrainedTokenizerFast``, so nothing depends on a downloaded vocabulary.  Weights are
initialised under a forked, seeded torch RNG (the global RNG state is left untouched).
"""

from __future__ import annotations

from pathlib import Path

import pytest

VOCAB = (
    "[PAD] [UNK] [CLS] [SEP] [MASK] the a of in is and to river lion water mountain africa long big small "
    "blue red green city sea ##s ##ed ##ing ##er ##ly maji mto simba mlima ##ni ##wa ##ko nile 1 2 3"
).split()


def build_tokenizer():
    """``PreTrainedTokenizerFast`` over :data:`VOCAB` (lower-cased WordPiece)."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(VOCAB)}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def build_tiny_bert(seed: int = 0, max_position_embeddings: int = 64):
    """A randomly initialised 2-layer, 32-wide ``BertModel`` (seeded, global RNG untouched)."""
    import torch
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_position_embeddings,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(cfg)
    return model.eval()


def save_tiny_biencoder(path: Path, **options) -> Path:
    """Save a tiny BiEncoder (``options``: pooling, normalize, max_length) to ``path``."""
    from harness.models.encoder import BiEncoder

    BiEncoder(build_tiny_bert(), build_tokenizer(), **options).save_pretrained(path)
    return path


class TinyBert:
    """The builders above, handed to tests by the ``tiny_bert`` fixture."""

    vocab = VOCAB
    model = staticmethod(build_tiny_bert)
    tokenizer = staticmethod(build_tokenizer)
    save = staticmethod(save_tiny_biencoder)


@pytest.fixture(scope="session")
def tiny_bert() -> type[TinyBert]:
    """Builders of the tiny BERT: ``.vocab``, ``.model(seed=, max_position_embeddings=)``,
    ``.tokenizer()``, ``.save(path, **BiEncoder options)``."""
    return TinyBert


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny BiEncoder (mean pooling, max_length 32); load it, do not modify it."""
    return save_tiny_biencoder(tmp_path_factory.mktemp("tiny-bert") / "model", pooling="mean", max_length=32)
