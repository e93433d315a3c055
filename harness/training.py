"""Training machinery shared by the teacher and every method plugin.

* :func:`resolve_device` — ``"auto"`` to ``"cuda"`` or ``"cpu"``.
* :func:`train` — one optimisation loop: AdamW (fused on CUDA), linear warm-up then
  linear decay, bf16 autocast on CUDA only, gradient clipping, and a check that stops on
  a non-finite loss or gradient *before* the optimizer step
  (:class:`~harness.errors.NonFiniteLossError`).
* :func:`shuffled_batches` and :func:`balanced_bitext_batches` — seeded data orders.
* :func:`info_nce` — InfoNCE with in-batch negatives.
* :class:`TeacherOptions` and :func:`train_teacher` — pivot retrieval fine-tuning.

Randomness is always passed in: data order comes from a ``numpy.random.Generator``;
dropout and initialisation inside :func:`train` use torch's global generator, which
:func:`train` seeds from ``seed`` inside :func:`torch.random.fork_rng`, so the caller's
global state is untouched and a run is reproducible (on CPU: identical weights).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ConfigError, NonFiniteLossError
from harness.options import Options, validate_section

if TYPE_CHECKING:
    import torch

    from harness.benchmarks.base import BitextPair, TrainPair
    from harness.models.encoder import BiEncoder

B = TypeVar("B")
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(spec: str) -> str:
    """``"auto"`` -> ``"cuda"`` if a CUDA device is available, else ``"cpu"``.

    ``"cuda"`` and ``"cuda:N"`` are checked to exist; anything else is a :class:`ConfigError`.
    """
    import torch

    if not isinstance(spec, str):
        raise ConfigError("device", spec, f"one of {DEVICES} or 'cuda:N'")
    s = spec.strip().lower()
    if s == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if s == "cpu":
        return "cpu"
    if s == "cuda" or (s.startswith("cuda:") and s[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(
                "device",
                spec,
                "'cpu' or 'auto' (no CUDA device is visible to torch)",
                hint="install a CUDA build of torch or use device = 'auto'",
            )
        if ":" in s and int(s[5:]) >= torch.cuda.device_count():
            raise ConfigError("device", spec, f"cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
        return s
    raise ConfigError("device", spec, f"one of {DEVICES} or 'cuda:N'")


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity set (``os.cpu_count()`` where there is none)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def set_cpu_threads(n: int | None = None) -> int:
    """Use ``n`` torch intra-op threads (None or 0: all cores this process may use); returns n."""
    import torch

    n = max(1, int(n)) if n else usable_cpus()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


# ------------------------------------------------------------------------- losses
def info_nce(q: "torch.Tensor", p: "torch.Tensor", temperature: float = 0.05) -> "torch.Tensor":
    """InfoNCE with in-batch negatives.

    ``L = -1/B * sum_i log( exp(q_i . p_i / tau) / sum_j exp(q_i . p_j / tau) )``

    i.e. cross-entropy of the similarity matrix ``S = q p^T / tau`` with the diagonal as
    targets; every other ``p_j`` in the batch is a negative for ``q_i``.

    Parameters
    ----------
    q : Tensor, shape (B, H)
        Query (or pivot-side) embeddings, usually L2-normalised.
    p : Tensor, shape (B, H)
        Positive embeddings; ``p[i]`` is the positive of ``q[i]``.
    temperature : float
        ``tau > 0`` (the scale ``1 / tau``: 0.05 equals scale 20).

    Examples
    --------
    >>> import torch
    >>> q = torch.eye(2); round(float(info_nce(q, q, 1.0)), 4)
    0.3133
    """
    import torch

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if q.shape != p.shape or q.ndim != 2:
        raise ValueError(f"q and p must both be (B, H); got {tuple(q.shape)} and {tuple(p.shape)}")
    scores = (q.float() @ p.float().T) / temperature  # (B, B)
    targets = torch.arange(q.shape[0], device=q.device)
    return torch.nn.functional.cross_entropy(scores, targets)


# ------------------------------------------------------------------------- batches
def shuffled_batches(
    n: int, batch_size: int, rng: np.random.Generator, *, drop_last: bool = True
) -> Iterator[np.ndarray]:
    """Endless index batches over ``range(n)``: a fresh permutation from ``rng`` per epoch.

    With ``drop_last`` the incomplete tail of each epoch is dropped (unless the data are
    smaller than one batch, then one batch of all ``n`` items is yielded per epoch).
    """
    if n <= 0:
        raise ValueError("cannot batch an empty dataset")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    while True:
        perm = rng.permutation(n)
        if n <= batch_size:
            yield perm
            continue
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield perm[start : start + batch_size]


def bucketed_batches(
    lengths: Sequence[int] | np.ndarray, batch_size: int, rng: np.random.Generator, *, pool: int = 64
) -> Iterator[np.ndarray]:
    """Endless index batches of similar lengths (less padding), in a seeded random order.

    Each epoch: a random permutation is cut into pools of ``pool * batch_size`` items;
    each pool is sorted by length and cut into batches; the batches of the epoch are
    shuffled.  Incomplete batches are dropped unless the data are smaller than a batch.
    """
    lengths = np.asarray(lengths)
    n = len(lengths)
    if n == 0:
        raise ValueError("cannot batch an empty dataset")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if n <= batch_size:
        yield from shuffled_batches(n, batch_size, rng)
    while True:
        perm = rng.permutation(n)
        epoch: list[np.ndarray] = []
        step = pool * batch_size
        for start in range(0, n, step):
            chunk = perm[start : start + step]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            epoch.extend(chunk[i : i + batch_size] for i in range(0, len(chunk) - batch_size + 1, batch_size))
        for i in rng.permutation(len(epoch)).tolist():
            yield epoch[i]


@dataclass(frozen=True)
class BitextBatch:
    """A batch of parallel sentences.  ``languages[i]`` is the language of ``other[i]``."""

    pivot: tuple[str, ...]
    other: tuple[str, ...]
    languages: tuple[str, ...]
    #: the true word alignment of each pair (``BitextPair.alignment``), where the benchmark knows it
    alignments: tuple[Any, ...] | None = None

    @property
    def language(self) -> str | None:
        """The batch's single language, or None for a mixed batch."""
        return self.languages[0] if len(set(self.languages)) == 1 else None


def balanced_bitext_batches(
    bitext: Mapping[str, Sequence["BitextPair"]],
    batch_size: int,
    rng: np.random.Generator,
    *,
    alpha: float = 0.0,
    mixed: bool = False,
) -> Iterator[BitextBatch]:
    """Endless bitext batches with languages sampled by ``p_l ∝ n_l ** alpha``.

    ``alpha = 0`` (default) balances languages whatever their bitext size; ``alpha = 1``
    samples in proportion to size (then low-resource pairs are a small minority of
    batches: ~17 % in the feasibility prototype).  Languages with no pairs (the pivot)
    are skipped.

    * ``mixed=False``: each batch holds one language (in-batch negatives are in the same
      language).  With ``alpha = 0`` languages come in shuffled rounds, so after every
      ``n_languages`` batches each language has had exactly one.
    * ``mixed=True``: each batch draws its ``batch_size`` language slots from ``p_l``.

    Within a language, pairs are visited in a fresh random order per pass.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    langs = [lang for lang in bitext if len(bitext[lang]) > 0]
    if not langs:
        raise ValueError("no bitext: every language has zero parallel sentences")
    sizes = np.array([len(bitext[lang]) for lang in langs], dtype=float)
    probs = sizes**alpha / (sizes**alpha).sum()
    streams = {lang: _endless_indices(len(bitext[lang]), rng) for lang in langs}

    def take(lang: str, k: int) -> list[tuple[str, str, Any]]:
        pairs = bitext[lang]
        out = []
        for _ in range(k):
            p = pairs[next(streams[lang])]
            out.append((p.pivot, p.other, getattr(p, "alignment", None)))
        return out

    def aligned(found: Sequence[Any]) -> tuple[Any, ...] | None:
        return None if all(a is None for a in found) else tuple(found)

    while True:
        if mixed:
            counts = rng.multinomial(batch_size, probs)
            items: list[tuple[str, str, str, Any]] = []
            for lang, k in zip(langs, counts.tolist()):
                items.extend((pv, ot, lang, al) for pv, ot, al in take(lang, k))
            order = rng.permutation(len(items)).tolist()
            items = [items[i] for i in order]
            yield BitextBatch(
                tuple(i[0] for i in items),
                tuple(i[1] for i in items),
                tuple(i[2] for i in items),
                aligned([i[3] for i in items]),
            )
            continue
        rounds = rng.permutation(len(langs)).tolist() if alpha == 0 else [int(rng.choice(len(langs), p=probs))]
        for li in rounds:
            lang = langs[li]
            k = min(batch_size, len(bitext[lang]))
            pairs = take(lang, k)
            yield BitextBatch(
                tuple(p for p, _, _ in pairs),
                tuple(o for _, o, _ in pairs),
                (lang,) * k,
                aligned([a for *_, a in pairs]),
            )


def _endless_indices(n: int, rng: np.random.Generator) -> Iterator[int]:
    while True:
        yield from rng.permutation(n).tolist()


# ------------------------------------------------------------------------- loop
@dataclass(frozen=True)
class TrainStats:
    """What a training run did.

    ``loss_curve`` holds the mean loss over consecutive windows of ``curve_every`` steps
    (at most ~50 points), so reports can plot it without storing every step.
    """

    method: str
    seed: int
    steps: int
    first_loss: float
    final_loss: float
    loss_curve: tuple[float, ...]
    curve_every: int
    seconds: float
    device: str


@dataclass(frozen=True)
class Schedule:
    """How long and how fast a training loop optimises: AdamW with linear warm-up, then linear decay.

    Learning rate at step ``t`` of the horizon ``T`` (``horizon``, default ``steps``):
    ``lr_t = lr * min((t+1) / w, (T - t) / (T - w))`` with ``w = max(1, round(warmup * T))``
    warm-up steps (``warmup = 0``: no warm-up).  Training stops after ``steps <= T`` steps: a
    run with ``steps = b, horizon = T`` is exactly the first ``b`` steps of the run with
    ``steps = T`` (same seed, same data order).  AdamW's ``weight_decay`` applies to matrices
    only (not to biases and LayerNorm weights).

    Example
    -------
    >>> Schedule(steps=200, lr=1e-3)
    Schedule(steps=200, lr=0.001, warmup=0.1, weight_decay=0.01, horizon=None)
    >>> Schedule(steps=0, lr=1e-3)
    Traceback (most recent call last):
    ...
    ValueError: steps must be >= 1, got 0
    """

    steps: int
    lr: float
    warmup: float = 0.1
    weight_decay: float = 0.01
    horizon: int | None = None

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be a share of the steps in [0, 1), got {self.warmup}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.horizon is not None and self.horizon < self.steps:
            raise ValueError(f"horizon (schedule steps, {self.horizon}) must be >= steps ({self.steps})")

    @property
    def total(self) -> int:
        """``T``: the schedule's horizon in steps (``horizon``, default ``steps``)."""
        return self.steps if self.horizon is None else int(self.horizon)


@dataclass(frozen=True)
class Budget:
    """Checkpoints of a training run evaluated as budget-curve points (:meth:`harness.plugin.FitContext.train`).

    ``eval_at``: step counts (each in ``1 .. steps - 1``) after which the model is evaluated
    exactly as a final result is; ``examples_per_step``: training examples per step, so a point
    records ``examples = steps * examples_per_step``; ``encoder``: what a checkpoint evaluates
    (default: the model trained; e.g. a wrapper that encodes queries with the student and
    documents with the teacher).
    """

    eval_at: Sequence[int] = ()
    examples_per_step: int | None = None
    encoder: Any = None


def train(
    model: "torch.nn.Module",
    batches: Iterable[B],
    loss_fn: Callable[[B], "torch.Tensor"],
    schedule: Schedule,
    *,
    method: str,
    seed: int,
    device: str = "cpu",
    params: Iterable["torch.nn.Parameter"] | None = None,
    grad_clip: float | None = 1.0,
    progress: bool = False,
    hint: str = "",
    torch_seed: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
    desc: str = "",
) -> TrainStats:
    """Minimise ``loss_fn(batch)`` for ``schedule.steps`` optimizer steps.

    Schedule: see :class:`Schedule` (AdamW, linear warm-up then linear decay, weight decay on
    matrices only), fused on CUDA.  On CUDA the forward pass runs under bf16 autocast.
    Gradients are clipped to global norm ``grad_clip`` (None: no clipping).

    Parameters
    ----------
    model : torch.nn.Module
        Put in train mode for the loop (its previous mode is restored afterwards).
    batches : iterable
        Yields at least ``schedule.steps`` batches (e.g. :func:`shuffled_batches`, which is
        endless); the caller draws their order from its seeded generator.
    loss_fn : callable
        ``loss_fn(batch) -> scalar tensor``.  It runs under the autocast context.
    schedule : Schedule
        Steps, peak learning rate, warm-up, weight decay and the schedule's horizon.
    params : iterable of parameters, optional
        What to optimise (default: every parameter of ``model`` with ``requires_grad``).
    method, seed : str, int
        For error messages and the returned stats (the run seed).
    torch_seed : int, optional
        Seed of torch's global generator (dropout) inside ``fork_rng``: a stage's own
        stream from :func:`harness.seeding.torch_seed` (default: ``seed``).
    hint : str
        Appended to the :class:`NonFiniteLossError` message (which knob to turn).
    on_step : callable, optional
        ``on_step(done, train_seconds)`` after every optimizer step (``done`` steps so far,
        seconds of training so far); e.g. to evaluate checkpoints.  It must leave the
        model's weights and every random stream alone; the model is put back in train mode
        after it returns, and its time is not counted as training time.
    desc : str
        Label of the progress bar (default ``"<method> (seed <seed>)"``).

    Raises
    ------
    NonFiniteLossError
        When the loss or the gradient norm is NaN or infinite; no optimizer step is taken
        with it, so the model keeps its last finite weights.
    """
    import torch

    steps, lr, warmup, weight_decay = schedule.steps, schedule.lr, schedule.warmup, schedule.weight_decay
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    params = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    if not params:
        raise ValueError(f"method {method!r}: nothing to train (no parameter requires grad)")
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [
        g
        for g in ({"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0})
        if g["params"]
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr, fused=cuda or None)
    horizon = schedule.total
    warm = max(1, round(warmup * horizon)) if warmup > 0 else 0

    def factor(t: int) -> float:
        if warm and t < warm:
            return (t + 1) / warm
        return max(0.0, (horizon - t) / max(1, horizon - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    label = desc or f"{method} (seed {seed})"
    # A bar on the driver's terminal; in a worker process (whose bar would fight the driver's) or
    # without a terminal, a line at each quarter of the steps instead.
    show = progress and sys.stderr.isatty() and not _in_worker_process()
    quarters = {math.ceil(steps * q / 4) for q in (1, 2, 3)} if progress and not show else set()
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=label, leave=False)
    elif quarters:
        _progress_line(f"{label}: started ({steps} steps)")
    every = max(1, math.ceil(steps / 50))
    curve: list[float] = []
    window: list[float] = []
    first = final = float("nan")
    was_training = model.training
    model.train()
    t0 = time.perf_counter()
    paused = 0.0  # seconds spent in on_step (not training)
    it = iter(batches)
    fork_devices = [dev.index or 0] if cuda else []
    try:
        with torch.random.fork_rng(devices=fork_devices, device_type="cuda"):
            torch.manual_seed(seed if torch_seed is None else torch_seed)
            for step in range(steps):
                try:
                    batch = next(it)
                except StopIteration:
                    raise ValueError(
                        f"method {method!r}: the batch iterator ran out after {step} of {steps} steps; "
                        "pass an endless iterator (e.g. harness.training.shuffled_batches) or fewer steps"
                    ) from None
                with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=cuda):
                    loss = loss_fn(batch)
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise NonFiniteLossError(method, seed, step, value, hint=hint or _DEFAULT_HINT)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                # Global gradient norm (clipped to grad_clip; inf: measured only).
                norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip is not None else math.inf))
                if not math.isfinite(norm):
                    raise NonFiniteLossError(
                        method,
                        seed,
                        step,
                        value,
                        hint=f"the loss was finite but the gradient norm is {norm}. " + (hint or _DEFAULT_HINT),
                    )
                optimizer.step()
                scheduler.step()
                if step == 0:
                    first = value
                final = value
                window.append(value)
                if len(window) == every:
                    curve.append(sum(window) / len(window))
                    window.clear()
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0:
                        bar.set_postfix(loss=f"{value:.4f}")
                elif step + 1 in quarters:
                    done = step + 1
                    _progress_line(
                        f"{label}: step {done}/{steps} ({100 * done // steps}%), loss {value:.4f}, "
                        f"{time.perf_counter() - t0 - paused:.1f} s"
                    )
                if on_step is not None:
                    t_cb = time.perf_counter()
                    on_step(step + 1, t_cb - t0 - paused)
                    model.train()
                    paused += time.perf_counter() - t_cb
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
        optimizer.zero_grad(set_to_none=True)
    if window:
        curve.append(sum(window) / len(window))
    return TrainStats(
        method, seed, steps, first, final, tuple(curve), every, time.perf_counter() - t0 - paused, str(dev)
    )


_DEFAULT_HINT = "lower the learning rate, raise the temperature, or lower grad_clip"


def _in_worker_process() -> bool:
    """Whether this is a child process (a local worker of the pool), whose stderr is the driver's terminal."""
    import multiprocessing

    return multiprocessing.parent_process() is not None


def _progress_line(line: str) -> None:
    """A progress line on stderr; on a terminal it first clears the line (the driver's bar, redrawn after it)."""
    clear = "\r\x1b[K" if sys.stderr.isatty() else ""
    sys.stderr.write(f"{clear}{line}\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------- options
class TrainingOptions(Options):
    """Shared training and encoding settings (config ``[training]``; ``FitContext.training``).

    ``grad_clip`` is applied by :meth:`harness.plugin.FitContext.train` to every method's
    optimisation; ``encode_batch_size`` is the number of texts per forward pass when an
    encoder embeds queries and documents for retrieval; ``num_threads`` is the number of
    torch CPU intra-op threads every stage runs with (0: every core this process may use).

    The thread count is part of the identity of every trained stage (base encoder, teacher,
    cell): torch's CPU kernels sum in an order that depends on it, so 1 and 2 threads give
    different weights and, after training, different scores.  It is therefore pinned (default
    1, the same on a laptop, a Ray worker and a cluster node), recorded in the manifest and
    checked by ``harness reproduce``; to use more cores, run cells in parallel processes
    (``[executor] workers``) rather than raising it.  ``0`` makes results depend on the
    machine's core count, which the manifest then records.
    """

    grad_clip: float = Field(1.0, gt=0, description="max global gradient norm")
    encode_batch_size: int = Field(256, ge=1, le=65536, description="texts per encoding batch")
    num_threads: int = Field(1, ge=0, le=512, description="torch CPU threads per process; 0 = all cores")


# ------------------------------------------------------------------------- teacher
class TeacherOptions(BaseModel):
    """Pivot retrieval fine-tuning of the teacher (config section ``[teacher]``).

    Objective: :func:`info_nce` over (query, positive passage) pairs with in-batch
    negatives, ``L = -1/B sum_i log softmax_j(q_i . p_j / tau)_i``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(5e-4, gt=0, le=1.0, description="AdamW peak learning rate")
    epochs: float = Field(3.0, gt=0, le=1000, description="passes over the training pairs")
    steps: int | None = Field(None, ge=1, description="optimizer steps (overrides epochs)")
    batch_size: int = Field(64, ge=2, le=65536, description="(query, positive) pairs per step (in-batch negatives)")
    temperature: float = Field(0.05, gt=0, le=10, description="InfoNCE temperature tau (= 1 / scale)")
    max_length: int = Field(64, ge=4, le=4096, description="tokens per text")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    grad_clip: float | None = Field(1.0, gt=0, description="global gradient-norm clip (None: no clipping)")
    warmup: float = Field(0.1, ge=0, lt=1, description="share of steps with linear warm-up (then linear decay)")

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, section: str = "teacher", source: str = ""
    ) -> "TeacherOptions":
        """Validate a config mapping, raising :class:`ConfigError` naming ``<section>.<field>``."""
        return validate_section(cls, data or {}, section, source)

    def total_steps(self, n_pairs: int) -> int:
        return total_steps(self.steps, self.epochs, n_pairs, self.batch_size)


def total_steps(steps: int | None, epochs: float, n_items: int, batch_size: int) -> int:
    """``steps`` if given, else ``ceil(epochs * n_items / batch_size)`` (at least 1)."""
    if steps is not None:
        return steps
    return max(1, math.ceil(epochs * n_items / batch_size))


def train_teacher(
    base: "BiEncoder",
    pairs: Sequence["TrainPair"],
    options: TeacherOptions,
    seed: int,
    device: str = "cpu",
    progress: bool = False,
) -> "BiEncoder":
    """Fine-tune a copy of ``base`` for pivot retrieval; ``base`` is left unchanged.

    Objective: InfoNCE over in-batch negatives (see :class:`TeacherOptions`), queries and
    passages encoded by the same (shared-weight) encoder.  Data order and dropout come from
    the run seed's ``("teacher", "data")`` and ``("teacher", "train")`` streams
    (:mod:`harness.seeding`); on CPU the result is identical for a fixed seed.
    """
    if not pairs:
        raise ValueError("no pivot training pairs to fine-tune the teacher on")
    model = base.copy().to(device)
    model.max_length = options.max_length
    from harness.seeding import rng as seeded_rng
    from harness.seeding import torch_seed

    rng = seeded_rng(seed, "teacher", "data")
    batch_size = min(options.batch_size, len(pairs))
    order = shuffled_batches(len(pairs), batch_size, rng)
    queries = [p.query for p in pairs]
    passages = [p.positive for p in pairs]

    def loss_fn(idx: np.ndarray) -> "torch.Tensor":
        q = model.embed([queries[i] for i in idx])  # (B, H)
        d = model.embed([passages[i] for i in idx])  # (B, H)
        return info_nce(q, d, options.temperature)

    train(
        model,
        order,
        loss_fn,
        Schedule(
            steps=options.total_steps(len(pairs)),
            lr=options.lr,
            warmup=options.warmup,
            weight_decay=options.weight_decay,
        ),
        method="teacher",
        seed=seed,
        device=device,
        torch_seed=torch_seed(seed, "teacher", "train"),
        grad_clip=options.grad_clip,
        progress=progress,
        hint="lower teacher.lr or raise teacher.temperature",
    )
    model.eval()
    return model
