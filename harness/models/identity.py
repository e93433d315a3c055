"""What a base model *is* (its content), and whether its tokenizer can read the benchmark.

* :func:`model_fingerprint`: the cache identity of a ``from_pretrained`` model.  A local
  directory is identified by the sha256 of every file in it (weights, config, tokenizer),
  so fixing a broken directory changes the identity and recomputes what depends on it; a
  hub name by the commit of its snapshot in the local Hugging Face cache (``resolved
  revision``).  Hashing a 700 MB model takes ~1 s; digests are remembered in
  ``<cache>/digests.json`` keyed by each file's state (path, size, mtime, ctime, inode,
  device: :func:`harness.corpus.file_stamp`), so an unchanged directory is hashed once and
  an edit that restores the mtime is still seen.
* :func:`check_loading`: a checkpoint that leaves parameters of the declared architecture
  random (missing or mismatched keys, from transformers' ``output_loading_info``) is refused.
* :func:`check_tokenizer`: the share of ``[UNK]`` among the word pieces of sample texts;
  a warning above ``warn_rate``, an error when every text is unknown (a model directory
  without its vocabulary, a tokenizer for another script).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import DataUnavailableError

__all__ = ["TokenizerCoverageWarning", "WeightsMismatchError", "check_loading", "check_tokenizer", "model_fingerprint"]


class TokenizerCoverageWarning(UserWarning):
    """Many word pieces of the benchmark's text are unknown to the model's tokenizer."""


def _file_digest(path: Path, memo: dict[str, Any]) -> str:
    from harness.corpus import file_stamp, memoisable

    stamp = file_stamp(path)
    key = "|".join(str(v) for v in stamp.values())
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    if memoisable(stamp):  # a file changed within the clock's tick could change again unseen
        memo[key] = h.hexdigest()
    return h.hexdigest()


def model_fingerprint(name_or_path: str | os.PathLike, memo_file: Path | None = None) -> dict[str, Any]:
    """Content identity of a model: ``{"kind": "dir", "sha256": ...}`` or ``{"kind": "hub", "revision": ...}``.

    Raises :class:`DataUnavailableError` (before any work) when the directory does not exist
    or the hub name is not in the local Hugging Face cache.
    """
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        memo: dict[str, Any] = {}
        if memo_file is not None and memo_file.is_file():
            try:
                memo = json.loads(memo_file.read_text())
            except (OSError, ValueError):
                memo = {}
        files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        h = hashlib.sha256()
        for f in files:
            h.update(f"{f.relative_to(p).as_posix()}\t{_file_digest(f, memo)}\n".encode())
        if memo_file is not None:
            from harness.cache import atomic_write_text

            try:
                atomic_write_text(memo_file, json.dumps(memo, sort_keys=True))
            except OSError:
                pass  # the memo is an optimisation only
        return {"kind": "dir", "sha256": h.hexdigest(), "files": len(files)}
    if str(name_or_path).startswith((".", "/", "~")) or os.sep in str(name_or_path).strip("/").replace("/", "", 1):
        raise DataUnavailableError(
            f"model directory {str(name_or_path)!r} (model.base) does not exist; give a directory written by "
            "save_pretrained (config.json, weights, tokenizer files) or a hub name already in the local Hugging Face "
            "cache"
        )
    try:
        from huggingface_hub import snapshot_download

        snap = Path(snapshot_download(str(name_or_path), local_files_only=True))
    except Exception as e:  # noqa: BLE001 - any failure means: not available offline
        raise DataUnavailableError(
            f"model {str(name_or_path)!r} (model.base) is neither a local directory nor in the local Hugging Face "
            f"cache (HF_HOME): {type(e).__name__}. Download it once on a connected machine (e.g. `huggingface-cli "
            f"download {name_or_path}`) and copy the cache here, or give a local directory"
        ) from None
    return {"kind": "hub", "name": str(name_or_path), "revision": snap.name}


#: Parameters an encoder may lack in its checkpoint: BERT's pooler (a dense layer over [CLS] trained for next-sentence
#: prediction) is never used by mean or [CLS] pooling of the last hidden states, and MLM checkpoints omit it.
UNUSED_PARAMETERS = ("pooler.",)


class WeightsMismatchError(DataUnavailableError):
    """A model's weights do not fit the architecture its config.json declares (parameters would be random)."""


def check_loading(name: str, model: Any, info: dict[str, Any]) -> None:
    """Refuse a model whose checkpoint left parameters of its declared architecture uninitialised.

    ``info`` is transformers' ``output_loading_info`` (``missing_keys``, ``unexpected_keys``,
    ``mismatched_keys``).  Missing parameters other than :data:`UNUSED_PARAMETERS` are drawn at
    random by transformers with only a log line: a config.json saying ``llama`` over BERT
    weights gives a randomly initialised Llama that runs to "complete".  Unexpected keys alone
    (a checkpoint's MLM or NSP heads) are fine: every parameter was loaded.

    Raises
    ------
    WeightsMismatchError
        Naming the architecture, the number of parameters left random and of checkpoint
        tensors not used, with examples of each.
    """
    missing = sorted(k for k in info.get("missing_keys", []) if not k.startswith(UNUSED_PARAMETERS))
    mismatched = sorted(k[0] if isinstance(k, (tuple, list)) else k for k in info.get("mismatched_keys", []))
    if not missing and not mismatched:
        return
    unexpected = sorted(info.get("unexpected_keys", []))
    arch = getattr(getattr(model, "config", None), "model_type", "?")
    total = sum(1 for _ in model.state_dict())
    parts = []
    if missing:
        parts.append(f"{len(missing)} of its {total} parameters are missing from the weights (e.g. {missing[:4]})")
    if mismatched:
        parts.append(f"{len(mismatched)} have another shape in the weights (e.g. {mismatched[:4]})")
    if unexpected:
        parts.append(f"{len(unexpected)} tensors of the weights fit no parameter (e.g. {unexpected[:4]})")
    raise WeightsMismatchError(
        f"model.base {name!r}: its weights do not load into the architecture config.json declares "
        f"(model_type {arch!r}): {'; '.join(parts)}. Those parameters would be random and every score "
        "meaningless. Check config.json's model_type and architectures against the checkpoint, or give the "
        "directory the model was saved to with save_pretrained"
    )


def check_tokenizer(tokenizer: Any, texts: Sequence[str], *, where: str, warn_rate: float = 0.05) -> float:
    """Share of unknown word pieces in ``texts``; warn above ``warn_rate``, raise if every text is unknown."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not texts:
        return 0.0
    special = set(getattr(tokenizer, "all_special_ids", []) or []) - {unk}
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=512)["input_ids"]
    pieces = [i for row in ids for i in row if i not in special]
    if not pieces:
        return 0.0
    rate = sum(i == unk for i in pieces) / len(pieces)
    all_unknown = all(all(i == unk for i in row if i not in special) for row in ids if row)
    if all_unknown:
        raise DataUnavailableError(
            f"{where}: every word piece of {len(texts)} sample texts is the unknown token "
            f"{getattr(tokenizer, 'unk_token', '[UNK]')!r}: the tokenizer cannot read this benchmark (a model "
            "directory without its vocabulary files, or a vocabulary for another script). Check model.base"
        )
    if rate > warn_rate:
        warnings.warn(
            f"{where}: {rate:.1%} of the word pieces of {len(texts)} sample texts are unknown to the "
            f"tokenizer ({getattr(tokenizer, 'unk_token', '[UNK]')}); scores will suffer. Check that "
            "model.base matches the benchmark's languages",
            TokenizerCoverageWarning,
            stacklevel=2,
        )
    return rate
