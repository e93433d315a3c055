"""Shared pieces of the GPU benchmarks (``perf/gpu_*.py``).

* :func:`device_or_skip` — ``"cuda"`` when present; without it, ``--smoke`` runs the same
  code on the CPU with tiny sizes (to test the scripts), otherwise the script prints
  :data:`SKIP_MESSAGE` and exits 0.
* :func:`miracl_like_lengths` — the passage-length distribution the benchmarks use.
* :func:`bert_config` / :func:`make_bert` — plain Hugging Face ``BertModel`` at mBERT size
  (random initialisation: the timings do not depend on the weights) or tiny for ``--smoke``.
* :func:`word_tokenizer` / :func:`texts_with_lengths` — a word-level fast tokenizer over
  the same vocabulary size and texts with a prescribed token count (no downloads).
* :class:`StepClock` — per-step wall times of :func:`harness.training.train`.
* :func:`event_times` — CUDA-event timing of a callable (host clock on the CPU).
* :func:`environment` — hardware and software versions for the record.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SKIP_MESSAGE = "no CUDA device: skipping"

# Special-token ids of the word tokenizer (and of the random token ids fed to BERT).
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
N_SPECIAL = 5
MBERT_VOCAB = 119_547


def add_common_arguments(parser) -> None:
    """``--smoke``, ``--json``, ``--seed``, ``--threads``."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="without CUDA: run the same code on the CPU with tiny sizes (checks the script, measures nothing)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def device_or_skip(args) -> str | None:
    """``"cuda"`` if torch sees a CUDA device, ``"cpu"`` for ``--smoke``, else None (after printing the skip line)."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if torch.cuda.is_available() and not args.smoke:
        return "cuda"
    if args.smoke:
        print(f"{SKIP_MESSAGE} the measurement; --smoke: running tiny sizes on the CPU to check the code path")
        return "cpu"
    print(f"{SKIP_MESSAGE} (torch.cuda.is_available() is False; pass --smoke to exercise the script on the CPU)")
    return None


# ----------------------------------------------------------------------------- data
def miracl_like_lengths(
    n: int, rng: np.random.Generator, *, median: float = 69.0, sigma: float = 0.7, low: int = 8, high: int = 256
) -> np.ndarray:
    """Passage lengths in tokens (special tokens included), shape ``(n,)`` int64.

    ``round(LogNormal(log(median), sigma))`` clipped to ``[low, high]``.  The defaults
    give mean ~85, median 69, 10th / 90th / 99th percentiles ~28 / 170 / 256, and ~3 % of
    passages at the 256-token cap (truncated): MIRACL passages are Wikipedia paragraphs,
    mostly far shorter than 256 mBERT tokens, with a long tail.  (An assumption of
    shape, not a measurement of MIRACL: no corpus is downloaded here.)
    """
    return np.clip(np.round(rng.lognormal(np.log(median), sigma, n)), low, high).astype(np.int64)


def length_summary(lengths: np.ndarray) -> dict[str, float]:
    p = np.percentile(lengths, [10, 50, 90, 99])
    return {
        "n": int(lengths.size),
        "mean": round(float(lengths.mean()), 2),
        "p10": float(p[0]),
        "median": float(p[1]),
        "p90": float(p[2]),
        "p99": float(p[3]),
        "max": int(lengths.max()),
        "share_at_max": round(float(np.mean(lengths == lengths.max())), 4),
    }


def random_token_ids(
    lengths: np.ndarray, width: int, vocab: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``[CLS] w ... w [SEP] [PAD] ...`` rows with ``lengths[i]`` real tokens: ids and mask, ``(n, width)``."""
    n = lengths.size
    ids = rng.integers(N_SPECIAL, vocab, size=(n, width), dtype=np.int64)
    pos = np.arange(width)[None, :]
    mask = pos < lengths[:, None]
    ids[:, 0] = CLS
    ids[np.arange(n), lengths - 1] = SEP
    ids[~mask] = PAD
    return ids, mask.astype(np.int64)


# ----------------------------------------------------------------------------- models
def bert_config(tiny: bool, vocab_size: int = MBERT_VOCAB):
    """mBERT size (119,547 x 768, 12 layers, 12 heads, FFN 3,072) or a tiny model; SDPA attention."""
    from transformers import BertConfig

    if tiny:
        return BertConfig(
            vocab_size=min(vocab_size, 1000),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=512,
            attn_implementation="sdpa",
        )
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        attn_implementation="sdpa",
    )


def make_bert(config, device: str, seed: int):
    """A randomly initialised ``BertModel`` built directly on ``device`` (seeded, global RNG untouched)."""
    import torch
    from transformers import BertModel

    devices = [0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        with torch.device(device):
            model = BertModel(config, add_pooling_layer=False)
    return model


def attn_implementation(model) -> str:
    return str(getattr(model.config, "_attn_implementation", None))


def word_tokenizer(vocab_size: int, max_length: int = 512):
    """A fast word-level tokenizer: ``[PAD] [UNK] [CLS] [SEP] [MASK] w5 w6 ...``, one token per word.

    Adds ``[CLS] ... [SEP]`` like BERT's, so a text of ``k`` words has ``k + 2`` tokens.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    vocab.update({f"w{i}": i for i in range(N_SPECIAL, vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def texts_with_lengths(lengths: np.ndarray, vocab_size: int, rng: np.random.Generator) -> list[str]:
    """Texts of random words whose token counts (with ``[CLS]``/``[SEP]``) are ``lengths``."""
    words = np.array([f"w{i}" for i in range(vocab_size)], dtype=object)
    out = []
    for n in lengths.tolist():
        ids = rng.integers(N_SPECIAL, vocab_size, size=max(0, n - 2))
        out.append(" ".join(words[ids]))
    return out


# ----------------------------------------------------------------------------- timing
class StepClock:
    """Wrap a ``loss_fn`` for :func:`harness.training.train` and record when each step starts.

    :func:`~harness.training.train` reads the loss as a Python float and the clipped
    gradient norm every step, so the host waits for the device each step and the interval
    between two calls of ``loss_fn`` is the wall time of one full step (forward, backward,
    clipping, optimizer step).
    """

    def __init__(self, loss_fn: Callable[[Any], Any]):
        self.loss_fn = loss_fn
        self.starts: list[float] = []

    def __call__(self, batch):
        self.starts.append(time.perf_counter())
        return self.loss_fn(batch)

    def step_seconds(self, warmup: int) -> list[float]:
        """Durations of the steps after the first ``warmup`` (the last step has no end mark)."""
        s = self.starts
        return [b - a for a, b in zip(s[warmup:-1], s[warmup + 1 :])]


def event_times(fn: Callable[[], Any], warmup: int, repeats: int, device: str) -> list[float]:
    """Seconds per call of ``fn``: CUDA events around each call (host clock on the CPU)."""
    import torch

    for _ in range(warmup):
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
        for start, end in ev:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize()
        return [s.elapsed_time(e) / 1e3 for s, e in ev]
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def gpu_busy_seconds(fn: Callable[[], Any], calls: int) -> float:
    """Total CUDA kernel time of ``calls`` calls of ``fn`` (torch.profiler), in seconds.

    Compared with the wall time of a call, it says whether a step waits for the GPU (busy
    time close to wall time) or for the host launching kernels (busy time far below).
    """
    import torch
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    us = sum(e.device_time for e in prof.events() if e.device_type == DeviceType.CUDA)
    return us / 1e6


def launch_probe_us(device: str, launches: int = 2000) -> float | None:
    """Host time per tiny kernel launch (``x.add_(1)`` on 1 element), in microseconds.

    Small-batch steps are bound by how fast the host launches kernels; this number lets
    runs on the same GPU but differently loaded hosts be compared.
    """
    import torch

    if not device.startswith("cuda"):
        return None
    x = torch.zeros(1, device=device)
    for _ in range(100):
        x.add_(1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(launches):
        x.add_(1)
    torch.cuda.synchronize()
    return round(1e6 * (time.perf_counter() - t0) / launches, 2)


def no_cudnn_sdpa():
    """Context: SDPA may use flash, memory-efficient or math attention, but not cuDNN.

    PyTorch prefers cuDNN attention on Hopper; cuDNN builds an execution graph for every
    new shape, which costs far more than a step when batch widths keep changing.  Covers
    the backward pass of everything run inside (the backend is chosen in the forward).
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def stats_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [1e3 * s for s in seconds]
    return {
        "median_ms": round(statistics.median(ms), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
        "n": len(ms),
    }


# ----------------------------------------------------------------------------- record
def environment(device: str) -> dict[str, Any]:
    """Date, host, Python / torch / transformers / POT versions, GPU name and driver."""
    import torch
    import transformers

    env: dict[str, Any] = {
        "date": _dt.date.today().isoformat(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu_count": os.cpu_count(),
        "device": device,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        import ot

        env["pot"] = ot.__version__
    except ImportError:
        env["pot"] = None
    if device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cuda_runtime"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
        env["launch_probe_us"] = launch_probe_us(device)
        try:
            q = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            env["nvidia_smi"] = q.stdout.strip()
        except (OSError, subprocess.SubprocessError) as e:  # pragma: no cover - depends on the machine
            env["nvidia_smi"] = f"unavailable: {e}"
    return env


def emit(result: dict[str, Any], json_path: Path | None) -> None:
    """Print the result as JSON (last, so a log's tail holds it) and write it to ``json_path``."""
    text = json.dumps(result, indent=1, sort_keys=False, default=str)
    print(text)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n")
