"""The embedded ``mini`` base encoder: a shared WordPiece vocabulary and a small BERT.

Both are trained on the synthetic benchmark's *imbalanced* pre-training text, which is
how mBERT acquires its language bias:

1. :func:`train_tokenizer` learns one WordPiece vocabulary for all languages.  Frequent
   (high-resource) words become single tokens; rare (low-resource) words are split into
   more pieces, as mBERT's vocabulary under-allocates low-resource languages.
2. :func:`pretrain_mlm` trains ``BertForMaskedLM`` (default 2 layers x 128) with masked
   language modelling, so high-resource words get far better contextual representations.

Objective (MLM): for a random set M of positions (``mask_prob`` of the non-special tokens;
80 % replaced by ``[MASK]``, 10 % by a random token, 10 % left as is),
``L = -1/|M| * sum_{i in M} log p(x_i | x_{\\M})``.

Untied output embeddings (``tie_embeddings = False``, a deviation from BERT): with tied
embeddings the softmax gradient pushes every rarely seen token's embedding the same way
(the "representation degeneration" of rare tokens, Gao et al., ICLR 2019), and at this
tiny scale the low-resource pieces collapsed together: the zero-shot teacher scored
nDCG@10 ~0.07-0.15 on the low tier against BM25's ~0.69 (measured with
``perf/bench_gap.py``), a hopeless tier rather than a disadvantaged one.  Untied,
the low tier scores ~0.33 and the high-minus-low gap is ~0.25.

``pretrain = False`` gives the *no-pre-training control*: the same tokenizer and
architecture with random initialisation, so reports can say how much of the language gap
pre-training causes (as opposed to the vocabulary alone).

The model is saved as a plain ``BertModel`` with :meth:`BiEncoder.save_pretrained`, so
``BiEncoder.from_pretrained(path)`` (and ``AutoModel``) load it without missing weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness import seeding
from harness.errors import ConfigError
from harness.options import validate_section

if TYPE_CHECKING:
    import torch

    from harness.benchmarks.base import BaseModelSpec
    from harness.cache import Cache
    from harness.training import TrainStats

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class MiniOptions(BaseModel):
    """Tokenizer, architecture and MLM pre-training of the ``mini`` encoder (config section ``[mini]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = Field(8000, ge=100, le=500_000, description="WordPiece vocabulary size")
    layers: int = Field(2, ge=1, le=48, description="transformer layers")
    hidden: int = Field(128, ge=16, le=8192, description="hidden width (a multiple of heads)")
    heads: int = Field(2, ge=1, le=128, description="attention heads")
    intermediate: int | None = Field(None, ge=16, description="feed-forward width (default 2 * hidden)")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout probability (hidden and attention)")
    tie_embeddings: bool = Field(
        False, description="share the MLM output matrix with the input embeddings (BERT does; see the module docstring)"
    )
    max_length: int = Field(64, ge=8, le=4096, description="tokens per text (special tokens included)")
    pretrain: bool = Field(True, description="False: random initialisation (the no-pre-training control)")
    mlm_epochs: float = Field(4.0, gt=0, le=1000, description="passes over the pre-training text")
    mlm_steps: int | None = Field(None, ge=1, description="MLM optimizer steps (overrides mlm_epochs)")
    mask_prob: float = Field(0.15, gt=0, lt=1, description="share of tokens masked for MLM")
    lr: float = Field(1e-3, gt=0, le=1, description="AdamW peak learning rate")
    batch_size: int = Field(128, ge=2, le=65536, description="sentences per MLM step")
    warmup: float = Field(0.06, ge=0, lt=1, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    seed: int = Field(0, ge=0, description="initialisation and masking seed")
    threads: int | None = Field(
        None,
        ge=0,
        le=512,
        description="torch CPU threads of the MLM pre-training (None: training.num_threads; 0: all cores)",
    )

    @model_validator(mode="after")
    def _check(self) -> "MiniOptions":
        if self.hidden % self.heads:
            raise ConfigError("mini.heads", self.heads, f"a divisor of mini.hidden = {self.hidden}")
        return self

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, section: str = "mini", source: str = "") -> "MiniOptions":
        """Validate a config mapping, raising :class:`ConfigError` naming ``<section>.<field>``."""
        return validate_section(cls, data or {}, section, source)

    def total_steps(self, n_sentences: int) -> int:
        from harness.training import total_steps

        return total_steps(self.mlm_steps, self.mlm_epochs, n_sentences, self.batch_size)


# ------------------------------------------------------------------------- tokenizer
def train_tokenizer(sentences: Sequence[str], vocab_size: int, max_length: int = 64):
    """Train a WordPiece vocabulary on ``sentences``; return a ``PreTrainedTokenizerFast``.

    Case is kept (names are capitalised), accents are kept, text is split on whitespace
    and punctuation, and ``[CLS] ... [SEP]`` are added around each text.  The vocabulary
    is learned by :func:`harness.models.vocab.train_wordpiece` (byte-pair merges with ties
    broken by text), so it is a pure function of the sentences.
    """
    from tokenizers import decoders, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from harness.models.vocab import train_wordpiece

    # harness.models.vocab rather than tokenizers' WordPieceTrainer: the latter breaks
    # frequency ties in a per-process random order, so vocabularies differ between runs.
    tok = train_wordpiece(
        list(sentences),
        vocab_size,
        list(SPECIAL_TOKENS),
        min_frequency=2,
        normalizer=normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False
        ),
        pre_tokenizer=pre_tokenizers.BertPreTokenizer(),
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def pieces_per_word(tokenizer, sentences: Sequence[str]) -> float:
    """Mean number of WordPiece pieces per whitespace word (vocabulary allocation)."""
    words = [w for s in sentences for w in s.split()]
    if not words:
        return float("nan")
    enc = tokenizer(words, add_special_tokens=False)["input_ids"]
    return float(np.mean([len(e) for e in enc]))


# ------------------------------------------------------------------------- model
def bert_config(options: MiniOptions, vocab_size: int):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=options.hidden,
        num_hidden_layers=options.layers,
        num_attention_heads=options.heads,
        intermediate_size=options.intermediate or 2 * options.hidden,
        hidden_dropout_prob=options.dropout,
        attention_probs_dropout_prob=options.dropout,
        max_position_embeddings=max(128, options.max_length),
        type_vocab_size=2,
        pad_token_id=0,
        tie_word_embeddings=options.tie_embeddings,
    )


def _mask_batch(
    ids: np.ndarray, special: np.ndarray, vocab_size: int, mask_id: int, mask_prob: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BERT masking of a padded ``(B, L)`` id array.

    Returns ``inputs (B, L)``, ``positions (n, 2)`` (row, column of every prediction) and
    ``labels (n,)`` (the original ids there).  At least one position per batch is chosen.
    """
    eligible = ~special  # (B, L)
    chosen = (rng.random(ids.shape) < mask_prob) & eligible
    if not chosen.any():
        rows, cols = np.nonzero(eligible)
        j = int(rng.integers(len(rows)))
        chosen[rows[j], cols[j]] = True
    inputs = ids.copy()
    u = rng.random(ids.shape)
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = rng.integers(len(SPECIAL_TOKENS), vocab_size, size=int(rand.sum()))
    positions = np.argwhere(chosen)  # (n, 2)
    return inputs, positions, ids[chosen]


def pretrain_mlm(
    tokenizer,
    sentences: Sequence[str],
    options: MiniOptions,
    device: str = "cpu",
    progress: bool = False,
) -> tuple[Any, "TrainStats | None"]:
    """Build ``BertForMaskedLM`` and (if ``options.pretrain``) pre-train it with MLM.

    Initialisation and masking are seeded by ``options.seed``; sentences are visited in
    a seeded random order (batches of similar length).  Returns the model (on CPU, eval
    mode) and the training stats (None for the no-pre-training control).
    """
    import torch
    from transformers import BertForMaskedLM

    from harness.training import Schedule, bucketed_batches, train

    config = bert_config(options, len(tokenizer))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeding.torch_seed(options.seed, "mini", "init"))
        model = BertForMaskedLM(config)
    if not options.pretrain:
        return model.eval(), None
    if not sentences:
        raise ValueError("no pre-training sentences for MLM")
    model.to(device)  # type: ignore[arg-type]  # transformers' stub types .to() for dtypes only
    enc = tokenizer(list(sentences), truncation=True, max_length=options.max_length)["input_ids"]
    lengths = np.array([len(e) for e in enc])
    width = int(lengths.max())
    ids = np.zeros((len(enc), width), dtype=np.int64)  # (N, L) padded with [PAD] = 0
    for i, e in enumerate(enc):
        ids[i, : len(e)] = e
    special_ids = np.array([tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS])
    special = np.isin(ids, special_ids)
    mask_id = tokenizer.convert_tokens_to_ids("[MASK]")
    rng = seeding.rng(options.seed, "mini", "mlm-data")
    order = bucketed_batches(lengths, min(options.batch_size, len(enc)), rng)
    dev = torch.device(device)

    def batches():
        for idx in order:
            width_b = int(lengths[idx].max())
            inputs, pos, labels = _mask_batch(
                ids[idx, :width_b], special[idx, :width_b], len(tokenizer), mask_id, options.mask_prob, rng
            )
            yield (
                torch.from_numpy(inputs).to(dev),
                torch.from_numpy(ids[idx, :width_b] != 0).long().to(dev),
                torch.from_numpy(pos).to(dev),
                torch.from_numpy(labels).to(dev),
            )

    def loss_fn(batch) -> "torch.Tensor":
        inputs, attention, pos, labels = batch
        hidden = model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state  # (B, L, H)
        logits = model.cls(hidden[pos[:, 0], pos[:, 1]])  # (n_masked, V): only masked positions
        return torch.nn.functional.cross_entropy(logits.float(), labels)

    stats = train(
        model,
        batches(),
        loss_fn,
        Schedule(
            steps=options.total_steps(len(enc)), lr=options.lr, warmup=options.warmup, weight_decay=options.weight_decay
        ),
        method="mlm-pretraining",
        seed=options.seed,
        torch_seed=seeding.torch_seed(options.seed, "mini", "mlm-train"),
        device=device,
        progress=progress,
        hint="lower mini.lr",
        desc="base encoder: MLM pre-training (shared by all seeds)",
    )
    return model.cpu().eval(), stats


def build_mini(
    out_dir: str | Path,
    sentences: Mapping[str, Sequence[str]],
    options: MiniOptions,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Train the tokenizer and the (optionally pre-trained) BERT; save both into ``out_dir``.

    ``sentences`` maps language -> pre-training sentences.  Writes the files of
    ``save_pretrained`` (loadable with ``BiEncoder.from_pretrained(out_dir)``) and returns
    a JSON-serialisable summary: pieces per word by language, MLM steps and loss.
    """
    from transformers import BertModel

    from harness.models.encoder import BiEncoder

    langs = list(sentences)
    corpus = [s for lang in langs for s in sentences[lang]]
    tokenizer = train_tokenizer(corpus, options.vocab_size, options.max_length)
    mlm, stats = pretrain_mlm(tokenizer, corpus, options, device=device, progress=progress)
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeding.torch_seed(options.seed, "mini", "pooler"))
        encoder = BertModel(mlm.config)  # with a (seeded, unused) pooler so loading finds every weight
    missing, unexpected = encoder.load_state_dict(mlm.bert.state_dict(), strict=False)
    if unexpected or any(not k.startswith("pooler.") for k in missing):
        raise RuntimeError(f"mini encoder weights do not match: missing {missing}, unexpected {unexpected}")
    BiEncoder(encoder.eval(), tokenizer, pooling="mean", max_length=options.max_length).save_pretrained(out_dir)
    return {
        "vocab_size": len(tokenizer),
        "pieces_per_word": {lang: round(pieces_per_word(tokenizer, sentences[lang][:500]), 4) for lang in langs},
        "pretrained": options.pretrain,
        "mlm_steps": stats.steps if stats else 0,
        "mlm_first_loss": stats.first_loss if stats else None,
        "mlm_final_loss": stats.final_loss if stats else None,
        "mlm_seconds": round(stats.seconds, 2) if stats else 0.0,
    }


# ------------------------------------------------------------------------- cached base encoder
def mlm_threads(options: MiniOptions | None, default: int | None) -> int | None:
    """torch CPU threads of the MLM pre-training: ``options.threads`` (0: every usable core), else ``default``."""
    if options is None or options.threads is None:
        return default
    from harness.training import usable_cpus

    return options.threads or usable_cpus()


def mini_key(benchmark: Any, options: "MiniOptions", device: str, threads: int | None = None) -> dict[str, Any]:
    """The cache key (stage ``base-mini``) of the ``mini`` base encoder :func:`cached_mini` builds."""
    key: dict[str, Any] = {
        "world": benchmark.fingerprint(),
        "options": options.model_dump(mode="json"),
        "device": "cuda" if str(device).startswith("cuda") else "cpu",
    }
    threads = mlm_threads(options, threads)
    if threads is not None:  # torch's CPU reductions depend on the thread count (harness.training.TrainingOptions)
        key["threads"] = int(threads)
    return key


def cached_mini(
    benchmark: Any,
    options: "MiniOptions | Mapping[str, Any] | None",
    device: str,
    cache: "Cache",
    progress: bool = False,
    threads: int | None = None,
) -> Path:
    """Directory of the ``mini`` base encoder for ``benchmark``'s pre-training text (built once, then cached).

    The tokenizer and BERT are trained on ``benchmark.pretrain_sentences(lang)`` for every
    language (:func:`build_mini`); ``options.pretrain = False`` gives the no-pre-training
    control.  Cache stage ``base-mini``, keyed by the benchmark's fingerprint, the model
    options, the device type (CPU and CUDA arithmetic differ) and the torch CPU thread count
    it is trained with (``options.threads``, else ``threads``: the caller's
    ``training.num_threads``; float sums depend on it).  Load it with
    ``harness.models.encoder.BiEncoder.from_pretrained(path)``.
    """
    import json

    from harness.training import set_cpu_threads

    options = validate_section(MiniOptions, options, "mini")
    key = mini_key(benchmark, options, device, threads)
    threads = mlm_threads(options, threads)

    def build(tmp: Path) -> None:
        import torch

        sentences = {lang: benchmark.pretrain_sentences(lang) for lang in benchmark.languages}
        before = torch.get_num_threads()
        if threads is not None:
            set_cpu_threads(threads)
        try:
            summary = build_mini(tmp, sentences, options, device, progress)
        finally:
            set_cpu_threads(before)  # the caller's stages (teachers, cells) keep their own count
        summary["threads"] = int(threads) if threads is not None else before
        (tmp / "mini.json").write_text(json.dumps(summary, indent=1, sort_keys=True))

    return cache.get_or_build("base-mini", key, build)


def mini_spec(path: Path) -> "BaseModelSpec":
    """A cached ``mini`` directory as a :class:`~harness.benchmarks.base.BaseModelSpec`."""
    import json

    from harness.benchmarks.base import BaseModelSpec
    from harness.hashing import hash_json

    summary = json.loads((path / "mini.json").read_text())
    meta = json.loads((path / ".entry.json").read_text()) if (path / ".entry.json").is_file() else {}
    files = meta.get("files", {})
    fp = hash_json({k: v.get("sha256") for k, v in files.items()}) if files else hash_json(summary)
    return BaseModelSpec(path=str(path), fingerprint=fp, extra=summary)
