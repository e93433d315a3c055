"""Bi-encoder over ``transformers``: pooling, normalisation, max length, batching.

Any local directory or hub name that ``AutoModel.from_pretrained`` understands works,
e.g. ``bert-base-multilingual-cased`` from the local Hugging Face cache, or the embedded
``mini`` encoder that the synthetic benchmark pre-trains and saves with
``save_pretrained``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from harness.errors import ConfigError, DataUnavailableError

POOLINGS = ("mean", "cls")
_META = "harness_biencoder.json"


def _quiet_transformers() -> None:
    """transformers prints its own progress bars on load/save; the harness shows its own."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _no_cudnn_attention(enabled: bool):
    """SDPA without the cuDNN backend (flash, memory-efficient or math), or a no-op."""
    import contextlib

    if not enabled:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])


def tokenizer_digest(tokenizer) -> str:
    """sha256 of a tokenizer's behaviour-defining content (fast-tokenizer JSON, or vocabulary)."""
    import hashlib

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str()
    else:
        text = json.dumps(sorted(tokenizer.get_vocab().items()))
    extra = json.dumps([type(tokenizer).__name__, getattr(tokenizer, "model_max_length", None)], default=str)
    return hashlib.sha256((text + extra).encode()).hexdigest()


#: Encoders whose last hidden state is the output of their last ``encoder.layer`` (no final
#: norm after the stack), so cutting the stack at ``k`` layers gives ``hidden_states[k]``.
_CUTTABLE = frozenset({"bert", "roberta", "xlm-roberta", "electra", "camembert"})


def _layer_list(model: nn.Module) -> nn.ModuleList | None:
    """The transformer layer list of a BERT-family model (cuttable, see :data:`_CUTTABLE`), else None."""
    if getattr(getattr(model, "config", None), "model_type", None) not in _CUTTABLE:
        return None
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    return layers if isinstance(layers, nn.ModuleList) else None


class BiEncoder(nn.Module):
    """Shared-weight dual encoder.

    ``embed(x) = normalize(pool(BERT(x)))`` where ``pool`` is the mask-weighted mean of the
    last hidden layer (``"mean"``) or the ``[CLS]`` vector (``"cls"``), and ``normalize``
    divides by the L2 norm (so the dot product is the cosine similarity).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A model whose output has ``last_hidden_state`` / ``hidden_states``.
    tokenizer : transformers.PreTrainedTokenizerBase
    pooling : {"mean", "cls"}
    normalize : bool
    max_length : int
        Tokens per text after truncation (special tokens included).
    encode_batch_size : int
        Texts per forward pass in :meth:`encode_queries` / :meth:`encode_documents`
        (config ``training.encode_batch_size``).
    """

    def __init__(
        self,
        model,
        tokenizer,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: int = 128,
        encode_batch_size: int = 256,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError("model.pooling", pooling, f"one of {POOLINGS}")
        if max_length < 4:
            raise ConfigError("model.max_length", max_length, "an integer >= 4")
        limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if isinstance(limit, int) and max_length > limit:
            raise ConfigError(
                "model.max_length",
                max_length,
                f"an integer between 4 and {limit} (the model's max_position_embeddings)",
            )
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = int(max_length)
        if int(encode_batch_size) < 1:
            raise ConfigError("training.encode_batch_size", encode_batch_size, "an integer >= 1")
        self.encode_batch_size = int(encode_batch_size)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
        device: str = "cpu",
        local_files_only: bool = True,
        encode_batch_size: int = 256,
    ) -> "BiEncoder":
        """Load a model and tokenizer with ``from_pretrained``.

        Options saved by :meth:`save_pretrained` are defaults; explicit arguments win.
        ``local_files_only`` defaults to True because this harness never downloads at run
        time: a hub name must already be in the Hugging Face cache.  Weights that leave
        parameters of the declared architecture random are refused
        (:func:`harness.models.identity.check_loading`).
        """
        from transformers import AutoModel, AutoTokenizer

        _quiet_transformers()
        meta: dict = {}
        p = Path(name_or_path).expanduser()
        if (str(name_or_path).startswith((".", "/", "~")) or p.exists()) and not p.is_dir():
            raise DataUnavailableError(
                f"model directory {str(name_or_path)!r} does not exist; give a directory written by "
                "save_pretrained (config.json, weights, tokenizer files), or a hub name already in the local Hugging Face "
                "cache (HF_HOME): download it once on a connected machine and copy the cache here"
            )
        if (p / _META).is_file():
            meta = json.loads((p / _META).read_text())
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(p) if p.is_dir() else str(name_or_path), local_files_only=local_files_only
            )
            model, loading = AutoModel.from_pretrained(
                str(p) if p.is_dir() else str(name_or_path), local_files_only=local_files_only, output_loading_info=True
            )
        except (OSError, ValueError) as e:
            raise DataUnavailableError(
                f"cannot load model {str(name_or_path)!r} with from_pretrained (offline): {e}. "
                "Give a local directory holding config.json, the weights and the tokenizer, or "
                "download the model once on a connected machine (e.g. `huggingface-cli download "
                f"{name_or_path}`) and copy the Hugging Face cache (HF_HOME) here."
            ) from e
        from harness.models.identity import check_loading

        check_loading(str(name_or_path), model, loading)  # no random parameters behind a "loaded" model
        enc = cls(
            model,
            tokenizer,
            pooling=pooling or meta.get("pooling", "mean"),
            normalize=meta.get("normalize", True) if normalize is None else normalize,
            max_length=max_length or meta.get("max_length", 128),
            encode_batch_size=encode_batch_size,
        )
        return enc.to(device)

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        _quiet_transformers()
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        (path / _META).write_text(
            json.dumps({"pooling": self.pooling, "normalize": self.normalize, "max_length": self.max_length})
        )

    def save_fitted(self, directory: str | Path) -> None:
        """Fit-cache hook (:mod:`harness.fitted`): a trained student, saved as by :meth:`save_pretrained`, and its
        ``encode_batch_size`` (batch shapes can change float rounding)."""
        self.save_pretrained(directory)
        (Path(directory) / "fitted_encoder.json").write_text(json.dumps({"encode_batch_size": self.encode_batch_size}))

    @classmethod
    def load_fitted(cls, directory: str | Path, ctx: Any) -> "BiEncoder":
        """Fit-cache hook: the student :meth:`save_fitted` wrote, on ``ctx.device``, in eval mode with gradients
        off: it encodes exactly as the saved one."""
        meta = json.loads((Path(directory) / "fitted_encoder.json").read_text())
        enc = cls.from_pretrained(directory, device=ctx.device, encode_batch_size=int(meta["encode_batch_size"]))
        enc.eval()
        for p in enc.parameters():
            p.requires_grad_(False)
        return enc

    def copy(self) -> "BiEncoder":
        """A deep copy (e.g. to initialise a student from the teacher)."""
        return copy.deepcopy(self)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dim(self) -> int:
        """``H``: the width of every embedding this encoder returns (the model's hidden size)."""
        return int(self.model.config.hidden_size)

    # ------------------------------------------------------------------ forward
    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Tokenise and pad to the longest text in ``texts``; tensors on the model's device."""
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=max_length or self.max_length,
            pad_to_multiple_of=32 if self.device.type == "cuda" else None,  # few shapes on CUDA
            return_tensors="pt",
        )
        dev = self.device
        return {k: v.to(dev) for k, v in batch.items() if k in ("input_ids", "attention_mask")}

    def features_from_ids(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """What :meth:`tokenize` returns for texts whose token ids are ``ids`` (from
        :meth:`tokenize_ids` or the tokenizer with the same ``max_length``): right padding to the
        longest (to a multiple of 32 on CUDA), tensors on the model's device."""
        import numpy as np

        lengths = [len(x) for x in ids]
        width = max(lengths, default=0)
        if self.device.type == "cuda":
            width = -(-width // 32) * 32
        batch = np.full((len(ids), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for r, (x, n) in enumerate(zip(ids, lengths)):
            batch[r, :n] = x
            mask[r, :n] = 1
        dev = self.device
        return {"input_ids": torch.from_numpy(batch).to(dev), "attention_mask": torch.from_numpy(mask).to(dev)}

    def token_embeddings(self, features: dict[str, torch.Tensor], layer: int = -1) -> torch.Tensor:
        """Hidden states of ``layer`` (``-1``: last), shape ``(batch, seq_len, hidden)``.

        ``layer`` indexes ``hidden_states`` as transformers returns them (``0``: the
        embeddings, ``k``: the output of the ``k``-th transformer layer, negative from the
        end).  For BERT-family encoders the layers above ``layer`` are not run at all (the
        encoder's layer list is cut for the call): the result is bit-identical to the full
        forward's ``hidden_states[layer]``, at the cost of the first ``layer`` layers only.
        """
        if layer == -1:
            return self.model(**features).last_hidden_state
        layers = _layer_list(self.model)
        n = len(layers) if layers is not None else None
        k = layer if layer >= 0 or n is None else n + 1 + layer
        if layers is None or n is None or not 1 <= k < n:
            return self.model(**features, output_hidden_states=True).hidden_states[layer]
        encoder = self.model.encoder
        encoder.layer = nn.ModuleList(list(layers)[:k])  # the same modules: weights and gradients are shared
        try:
            return self.model(**features).last_hidden_state
        finally:
            encoder.layer = layers

    def pool(self, tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pool ``(B, L, H)`` token vectors to ``(B, H)``, normalised if configured."""
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            m = attention_mask.unsqueeze(-1).to(tokens.dtype)  # (B, L, 1)
            pooled = (tokens * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, H)
        if self.normalize:
            pooled = nn.functional.normalize(pooled.float(), dim=-1)
        return pooled

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sentence embeddings ``(B, H)`` with gradients."""
        return self.pool(self.token_embeddings(features), features["attention_mask"])

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Tokenise and embed a batch of texts, with gradients: ``(len(texts), H)``."""
        return self(self.tokenize(texts))

    @torch.no_grad()
    def encode(
        self, texts: Sequence[str], batch_size: int = 256, pad_to_multiple_of: int | None = None
    ) -> torch.Tensor:
        """Embed many texts without gradients: ``(len(texts), H)`` float32 on CPU.

        Texts are tokenised once, sorted by token length and padded per batch (length
        bucketing), so short texts do not pay for long ones; results come back in input
        order.  On CUDA each batch width is rounded up to a multiple of
        ``pad_to_multiple_of`` (default 32: few distinct shapes) and SDPA does not use cuDNN
        attention (it builds an execution graph per new shape); on CPU nothing changes.
        """
        return self.encode_ids(self.tokenize_ids(texts), batch_size=batch_size, pad_to_multiple_of=pad_to_multiple_of)

    def tokenize_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of ``texts``, truncated to ``max_length`` (special tokens included)."""
        if len(texts) == 0:
            return []
        return self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]

    def tokenizer_identity(self) -> str:
        """What :meth:`tokenize_ids` depends on: the tokenizer's digest and ``max_length``
        (token ids cached under it are reused by every encoder with that tokenizer)."""
        return f"tokens:{tokenizer_digest(self.tokenizer)}:{self.max_length}"

    @torch.no_grad()
    def encode_ids(
        self, ids: Sequence[Sequence[int]], batch_size: int = 256, pad_to_multiple_of: int | None = None
    ) -> torch.Tensor:
        """:meth:`encode` from token ids (:meth:`tokenize_ids`): ``(len(ids), H)`` float32 on CPU."""
        import numpy as np

        n = len(ids)
        if n == 0:
            return torch.zeros(0, self.dim)
        was_training = self.training
        self.eval()
        dev = self.device
        cuda = dev.type == "cuda"
        multiple = pad_to_multiple_of or (32 if cuda else 1)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        order = np.argsort(lengths, kind="stable")  # ties keep input order
        pad_id = self.tokenizer.pad_token_id or 0
        out = torch.empty(n, self.dim)
        with _no_cudnn_attention(cuda):
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                width = min(self.max_length, -(-int(lengths[idx[-1]]) // multiple) * multiple)
                batch = np.full((len(idx), width), pad_id, dtype=np.int64)
                for r, i in enumerate(idx):
                    batch[r, : lengths[i]] = ids[i]
                mask = (np.arange(width)[None, :] < lengths[idx][:, None]).astype(np.int64)  # (B, width)
                feats = {"input_ids": torch.from_numpy(batch).to(dev), "attention_mask": torch.from_numpy(mask).to(dev)}
                with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=cuda):
                    emb = self(feats)  # (B, H)
                out[torch.from_numpy(idx)] = emb.float().cpu()
        self.train(was_training)
        return out

    def document_identity(self, language: str | None = None) -> str:
        """Identity of :meth:`encode_documents` (the same for every language).

        sha256 over the weights (every tensor of the state dict, by name, dtype and bytes),
        the tokenizer (its serialised fast-tokenizer JSON, or its sorted vocabulary), the
        pooling, normalisation, ``max_length`` and the device type (CUDA encodes under
        bf16 autocast).  Two encoders with equal identities return equal embeddings, so
        they share one document index (:mod:`harness.index`).
        """
        import hashlib

        h = hashlib.sha256()
        for name, t in sorted(self.model.state_dict().items()):
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        h.update(b"tokenizer|" + tokenizer_digest(self.tokenizer).encode())
        h.update(json.dumps([self.pooling, self.normalize, self.max_length, self.device.type]).encode())
        return "biencoder:" + h.hexdigest()

    def encode_queries(self, texts: Sequence[str], language: str) -> torch.Tensor:
        return self.encode(texts, batch_size=self.encode_batch_size)

    def encode_documents(self, texts: Sequence[str], language: str) -> torch.Tensor:
        return self.encode(texts, batch_size=self.encode_batch_size)
