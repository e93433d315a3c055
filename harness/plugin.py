"""What a plugin is, and what the harness hands it.

A **method** plugin is a subclass of :class:`Method` with a typed, closed ``Config`` (a
pydantic model), a ``version``, a BibTeX ``citation`` and a docstring whose first line is
a one-line description.  ``fit(ctx)`` returns either

* an :class:`Encoder` (dense methods): the harness encodes queries and documents and runs
  exact search itself, so metrics are identical across methods; or
* a :class:`Searcher` (lexical methods such as BM25): the harness gives it queries and a
  corpus and takes back ranked lists.

A method writes its diagnostics (loss curves, solver statistics; JSON data) into
``ctx.diagnostics``; they are stored with the cell and shown in the manifest and report.
It trains with :meth:`FitContext.train`, which applies the harness's shared settings
(device, seed stream, progress, gradient clipping, non-finite checks), so a plugin passes
only what is its own (model, batches, loss, steps, learning rate).

An **executor** plugin is a subclass of :class:`Executor`; a **benchmark** adapter a
subclass of :class:`harness.benchmarks.base.Benchmark`.  All three register the same way
(:mod:`harness.registry`).

Example
-------
>>> from harness import FitContext, Method, register_method
>>> @register_method("my-method")          # doctest: +SKIP
... class MyMethod(Method):
...     '''Zero-shot teacher, renamed.  Objective: none (no training).'''
...     version = "1.0"
...     citation = "@misc{me, title={Mine}}"
...     def fit(self, ctx: FitContext):
...         return ctx.teacher
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.training import TrainingOptions

if TYPE_CHECKING:  # heavy imports stay lazy
    import torch

    from harness.benchmarks.base import Benchmark, LanguageData
    from harness.cache import Cache
    from harness.engine import CellOutput, CellSpec, Engine
    from harness.training import TrainStats

B = TypeVar("B")

__all__ = ["EmptyConfig", "Encoder", "Executor", "FitContext", "Method", "Searcher", "Teacher"]


@runtime_checkable
class Encoder(Protocol):
    """Dense retriever: maps texts to L2-normalised float32 vectors (``(n, dim)``).

    The harness checks the norms (``| ||e||_2 - 1 | <= 1e-3`` per row, when ``model.normalize``
    is true) and fails the cell otherwise; an encoder whose scores are meant as raw inner
    products sets the attribute ``unit_norm = False``.
    """

    def encode_queries(self, texts: Sequence[str], language: str) -> "torch.Tensor": ...

    def encode_documents(self, texts: Sequence[str], language: str) -> "torch.Tensor": ...


@runtime_checkable
class Searcher(Protocol):
    """Lexical (or otherwise non-dense) retriever.

    ``search`` returns ``{query_id: {doc_id: score}}`` for the queries it is given; every doc id
    must be in ``data.corpus`` (else the cell fails, naming a few).  A query it leaves out (or
    ranks nothing for) scores 0 and is counted in the cell's ``queries_left_out``.
    """

    def search(self, queries: Mapping[str, str], data: "LanguageData", k: int) -> dict[str, dict[str, float]]: ...


class EmptyConfig(BaseModel):
    """Config of a method that takes no options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@runtime_checkable
class Teacher(Encoder, Protocol):
    """The seed's teacher as methods use it (a :class:`harness.models.encoder.BiEncoder`).

    Treat it as frozen: :meth:`copy` it before training a student.

    * ``encode_queries(texts, language)`` / ``encode_documents(texts, language)`` ->
      ``(n, H)`` L2-normalised float32 tensors (no gradients), ``encode_batch_size`` texts
      per forward pass;
    * ``embed(texts)`` -> ``(n, H)`` pooled embeddings *with* gradients (training);
    * ``tokenize(texts)`` -> ``{"input_ids", "attention_mask"}`` on the model's device;
      ``token_embeddings(features, layer=-1)`` -> ``(B, L, H)``; ``pool(tokens, mask)``;
    * ``copy()`` -> an independent trainable copy; ``to(device)``, ``parameters()``,
      ``train()``/``eval()`` as for any ``torch.nn.Module``; ``tokenizer``,
      ``max_length``, ``save_pretrained(path)``;
    * ``dim`` -> ``H``, the embedding width (e.g. to size a projection head:
      ``torch.nn.Linear(ctx.teacher.dim, ctx.teacher.dim)``).
    """

    tokenizer: Any
    max_length: int
    encode_batch_size: int

    @property
    def dim(self) -> int: ...

    def copy(self) -> "Teacher": ...

    def embed(self, texts: Sequence[str]) -> "torch.Tensor": ...

    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> dict[str, "torch.Tensor"]: ...

    def token_embeddings(self, features: dict[str, "torch.Tensor"], layer: int = -1) -> "torch.Tensor": ...

    def pool(self, tokens: "torch.Tensor", attention_mask: "torch.Tensor") -> "torch.Tensor": ...


@dataclass
class FitContext:
    """Everything a method may use while fitting one (method, seed) cell.

    Attributes
    ----------
    benchmark : Benchmark
        Data (bitext, pivot training pairs, languages and tiers).
    teacher : Teacher or None
        The pivot-fine-tuned teacher for this seed (None for methods with
        ``needs_teacher = False``); treat it as frozen: copy it before training a student.
    seed : int
        The cell's run seed.
    rng : numpy.random.Generator
        The cell's data-order generator (stage ``("method", name, "data")`` of
        :mod:`harness.seeding`).
    device : str
        ``"cpu"`` or ``"cuda"`` (resolved from the config's ``device = "auto"``).
    method : str
        The registered method name (for messages and option paths ``methods.<name>``).
    cache : Cache
        This method's own content-hash cache (e.g. for translations), shared across seeds
        and runs; its root is ``cache_dir``.
    training : TrainingOptions
        Shared training settings from the config (``grad_clip``, ``encode_batch_size``).
    progress : bool
        Whether progress bars may be shown.
    base_model : str or Path, optional
        Directory or hub name of the base encoder (before teacher fine-tuning).
    diagnostics : dict
        Where the method puts its diagnostics (JSON data: loss curves, solver statistics).
    train_seed : int, optional
        Seed of the method's dropout stream (stage ``("method", name, "train")``), used by
        :meth:`train`; None: the run seed.
    """

    benchmark: "Benchmark"
    teacher: Teacher | None
    seed: int
    rng: np.random.Generator
    device: str
    method: str
    cache: "Cache"
    training: TrainingOptions = field(default_factory=TrainingOptions)
    progress: bool = False
    base_model: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    train_seed: int | None = None
    #: evaluates a checkpoint (``checkpoint(encoder, budget)``); set by the engine
    checkpoint: Callable[[Any, dict[str, Any]], None] | None = None

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache.root)

    def train(
        self,
        model: "torch.nn.Module",
        batches: Iterable[B],
        loss_fn: Callable[[B], "torch.Tensor"],
        *,
        steps: int,
        lr: float,
        params: Iterable["torch.nn.Parameter"] | None = None,
        weight_decay: float = 0.01,
        warmup: float = 0.1,
        hint: str = "",
        schedule_steps: int | None = None,
        eval_at: Sequence[int] = (),
        examples_per_step: int | None = None,
        encoder: Any = None,
    ) -> "TrainStats":
        """Minimise ``loss_fn(batch)`` for ``steps`` AdamW steps with the harness's shared settings.

        See :func:`harness.training.train` for the schedule (linear warm-up for
        ``warmup * steps`` steps, then linear decay to 0 at ``steps``).  The harness
        supplies the device, the dropout seed (``train_seed``), progress display,
        ``training.grad_clip`` and the method name for error messages; ``hint`` is added
        to the error raised on a non-finite loss (default: lower ``methods.<name>.lr``).
        The model is left in eval mode with gradients off (ready to encode).

        Budget curves: ``eval_at`` lists step counts (each < ``steps``) after which the
        harness evaluates ``model`` (an Encoder) exactly as it evaluates a final result, on
        every language, and records it with its budget (steps, examples seen =
        ``steps * examples_per_step``, training seconds).  ``schedule_steps`` is the
        learning-rate schedule's horizon (default ``steps``).  A checkpoint at step ``b`` of a
        run is identical to a separate run with ``steps = b`` and the same ``schedule_steps``.
        ``encoder`` is what a checkpoint evaluates (default ``model``; e.g. a wrapper that
        encodes queries with ``model`` and documents with the teacher).
        """
        from harness.training import train

        budgets = sorted({int(b) for b in eval_at})
        if budgets and (budgets[0] < 1 or budgets[-1] >= steps):
            raise ValueError(f"method {self.method!r}: eval_at steps {budgets} must lie in 1 .. {steps - 1}")
        if budgets and self.checkpoint is None:
            raise ValueError(f"method {self.method!r}: checkpoints asked for, but this context cannot evaluate them")
        todo = set(budgets)

        def on_step(done: int, seconds: float) -> None:
            if done in todo:
                model.eval()
                with _no_grad():
                    self.checkpoint(
                        model if encoder is None else encoder,
                        {
                            "steps": done,
                            "seconds": round(seconds, 3),  # type: ignore[misc]
                            "examples": done * examples_per_step if examples_per_step else None,
                        },
                    )

        stats = train(
            model,
            batches,
            loss_fn,
            steps=steps,
            lr=lr,
            method=self.method,
            seed=self.seed,
            torch_seed=self.train_seed,
            device=self.device,
            params=params,
            weight_decay=weight_decay,
            grad_clip=self.training.grad_clip,
            warmup=warmup,
            progress=self.progress,
            hint=hint or f"lower methods.{self.method}.lr",
            schedule_steps=schedule_steps,
            on_step=on_step if todo else None,
        )
        self.diagnostics.setdefault(
            "budget",
            {
                "steps": steps,
                "schedule_steps": schedule_steps or steps,
                "examples": steps * examples_per_step if examples_per_step else None,
                "seconds": round(stats.seconds, 3),
            },
        )
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return stats


def _no_grad() -> Any:
    import torch

    return torch.no_grad()


class Method(abc.ABC):
    """Base class of method plugins.  See the module docstring."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    #: ``"dense"`` methods return an Encoder, ``"lexical"`` ones a Searcher.
    kind: ClassVar[str] = "dense"
    #: Whether the method needs the seed's teacher (lets lexical methods skip training it).
    needs_teacher: ClassVar[bool] = True
    #: Whether results do not depend on the seed (BM25): its runs are computed once per
    #: language and shared by every seed, and the cell's info says so.
    seed_invariant: ClassVar[bool] = False
    #: Whether ``fit`` uses the set of evaluated languages (e.g. trains on every language's
    #: bitext).  False (zero-shot, bm25, translate-test): a language's run depends on that
    #: language's data only, so adding or removing another language recomputes nothing.
    fit_uses_languages: ClassVar[bool] = True
    #: Rough compute cost of one cell relative to the zero-shot teacher's (a scheduling hint:
    #: a local worker pool starts costly cells first, so cheap ones fill the tail; no effect
    #: on any result).  Trained methods should say so (e.g. 10 for bitext alignment).
    cost: ClassVar[float] = 1.0
    #: Non-empty for a *control*, not a method under study: what it controls for, shown beside its
    #: name in the report's tables (e.g. ``"positive control: true alignment as the plan"``).
    control: ClassVar[str] = ""

    def __init__(self, config: BaseModel | Mapping[str, Any] | None = None):
        from harness.options import validate_section

        self.config = validate_section(self.Config, config, f"methods.{self.name or type(self).__name__}")

    @classmethod
    def description(cls) -> str:
        """First line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""

    @classmethod
    def control_role(cls, options: BaseModel) -> str:
        """The control role of an entry of this plugin with ``options`` ("": a method under study).

        The options' own ``control_role()`` where they define one and it is non-empty (an option
        can make an entry a control, e.g. shuffled bitext), else :attr:`control`.
        """
        own = getattr(options, "control_role", None)
        role = own() if callable(own) else ""
        return str(role or cls.control)

    @abc.abstractmethod
    def fit(self, ctx: FitContext) -> Encoder | Searcher:
        """Train (or not) and return a retriever for every language of the benchmark."""


class Executor(abc.ABC):
    """Base class of executors: they run cells and yield each one's output as it finishes.

    An executor never writes results itself: the driver (``harness.runner``) caches each
    :class:`~harness.engine.CellOutput` and writes the run directory.  Subclasses set a
    closed ``Config`` (the ``[executor]`` table's keys besides ``kind``) and implement
    :meth:`run`; :meth:`device` may fix the device cells run on (e.g. CUDA on GPU workers).
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, options: BaseModel | None, engine: "Engine"):
        from harness.options import validate_section

        self.options = validate_section(self.Config, options, "executor")
        self.engine = engine
        #: The driver's line logger (set by ``harness.runner`` before :meth:`run`); executors may
        #: name the stages they run with it (lines go above any progress bar, or to a log file).
        self.log: Callable[[str], None] = lambda line: None

    @classmethod
    def device(cls, options: BaseModel) -> str | None:
        """The device cells run on, or None for the config's ``device``."""
        return None

    @abc.abstractmethod
    def run(self, cells: Sequence["CellSpec"], progress: bool = False) -> Iterator["CellOutput"]:
        """Compute ``cells`` (none is cached) and yield one output per cell, in any order."""
