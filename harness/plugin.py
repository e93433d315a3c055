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
only what is its own: model, batches, loss, a :class:`~harness.training.Schedule` (steps,
learning rate, warm-up, weight decay) and optionally a :class:`~harness.training.Budget`
(checkpoints evaluated for the budget curve).

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
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Protocol,
    TypeVar,
    cast,
    get_args,
    get_origin,
    runtime_checkable,
)

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.progress import WorkEta
from harness.training import Budget, Schedule, TrainingOptions

if TYPE_CHECKING:  # heavy imports stay lazy
    import torch

    from harness.benchmarks.base import Benchmark, LanguageData
    from harness.cache import Cache
    from harness.cells import CellOutput, CellSpec
    from harness.training import TrainStats

B = TypeVar("B")
#: A method's config model: ``class MyMethod(Method[MyConfig])`` types ``self.config`` as ``MyConfig``.
ConfigT = TypeVar("ConfigT", bound=BaseModel)

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

    def require_teacher(self) -> Teacher:
        """The seed's teacher; a :class:`ValueError` when the context has none (``needs_teacher = False``)."""
        if self.teacher is None:
            raise ValueError(
                f"method {self.method!r} needs the seed's teacher, but the context has none "
                "(a method that uses ctx.teacher must keep needs_teacher = True)"
            )
        return self.teacher

    def train(
        self,
        model: "torch.nn.Module",
        batches: Iterable[B],
        loss_fn: Callable[[B], "torch.Tensor"],
        schedule: Schedule,
        *,
        budget: Budget | None = None,
        params: Iterable["torch.nn.Parameter"] | None = None,
        hint: str = "",
    ) -> "TrainStats":
        """Minimise ``loss_fn(batch)`` for ``schedule.steps`` AdamW steps with the harness's shared settings.

        ``schedule`` (:class:`~harness.training.Schedule`): steps, peak learning rate,
        warm-up share, weight decay and the learning-rate schedule's horizon (linear warm-up
        for ``warmup * T`` steps, then linear decay to 0 at ``T``).  The harness supplies the
        device, the dropout seed (``train_seed``), progress display, ``training.grad_clip``
        and the method name for error messages; ``hint`` is added to the error raised on a
        non-finite loss (default: lower ``methods.<name>.lr``).  The model is left in eval
        mode with gradients off (ready to encode).

        Budget curves (``budget``, a :class:`~harness.training.Budget`): after each step count
        in ``budget.eval_at`` (each < ``schedule.steps``) the harness evaluates ``budget.encoder``
        (default ``model``) exactly as it evaluates a final result, on every language, and
        records it with its budget (steps, examples seen = ``steps * examples_per_step``,
        training seconds).  A checkpoint at step ``b`` of a run is identical to a separate run
        with ``steps = b`` and the same ``horizon``.

        Example
        -------
        ``ctx.train(layer, batches, loss, Schedule(steps=cfg.steps, lr=cfg.lr))``
        """
        from harness.training import train

        steps = schedule.steps
        budget = budget or Budget()
        budgets = sorted({int(b) for b in budget.eval_at})
        if budgets and (budgets[0] < 1 or budgets[-1] >= steps):
            raise ValueError(f"method {self.method!r}: eval_at steps {budgets} must lie in 1 .. {steps - 1}")
        checkpoint = self.checkpoint
        if budgets and checkpoint is None:
            raise ValueError(f"method {self.method!r}: checkpoints asked for, but this context cannot evaluate them")
        todo = set(budgets)
        per_step = budget.examples_per_step

        def on_step(done: int, seconds: float) -> None:
            if done in todo and checkpoint is not None:
                model.eval()
                with _no_grad():
                    checkpoint(
                        model if budget.encoder is None else budget.encoder,
                        {
                            "steps": done,
                            "seconds": round(seconds, 3),
                            "examples": done * per_step if per_step else None,
                        },
                    )

        stats = train(
            model,
            batches,
            loss_fn,
            schedule,
            method=self.method,
            seed=self.seed,
            torch_seed=self.train_seed,
            device=self.device,
            params=params,
            grad_clip=self.training.grad_clip,
            progress=self.progress,
            hint=hint or f"lower methods.{self.method}.lr",
            on_step=on_step if todo else None,
        )
        self.diagnostics.setdefault(
            "budget",
            {
                "steps": steps,
                "schedule_steps": schedule.total,
                "examples": steps * per_step if per_step else None,
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


class Method(abc.ABC, Generic[ConfigT]):
    """Base class of method plugins, generic in its config model.  See the module docstring.

    ``class MyMethod(Method[MyConfig])`` sets ``Config = MyConfig`` (unless the class sets it
    itself, to the same model or a subclass) and types ``self.config`` as ``MyConfig``; a
    method without options subclasses ``Method[EmptyConfig]`` (or plain ``Method``).
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    #: The validated options of ``[methods.<name>]`` (an instance of ``Config``).
    config: ConfigT
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = _config_argument(cls)
        if declared is None:
            return
        if "Config" not in cls.__dict__:
            cls.Config = declared
        elif not (isinstance(cls.Config, type) and issubclass(cls.Config, declared)):
            raise TypeError(
                f"method class {cls.__qualname__}: Config = {getattr(cls.Config, '__name__', cls.Config)!r} is not "
                f"the model it is generic in (Method[{declared.__name__}]); drop the Config line, or make them agree"
            )

    def __init__(self, config: BaseModel | Mapping[str, Any] | None = None):
        from harness.options import validate_section

        where = f"methods.{self.name or type(self).__name__}"
        self.config = cast(ConfigT, validate_section(self.Config, config, where))

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

    # ------------------------------------------------------------------ fit cache (optional)
    def save(self, retriever: Encoder | Searcher, directory: Path) -> None:
        """Write a fitted ``retriever`` (what :meth:`fit` returned, or an encoder a budget-curve
        checkpoint evaluated) into ``directory``, so that :meth:`load` rebuilds it.

        Optional.  A method implementing both ``save`` and ``load`` is *fit-cached*: its fit is
        stored in the cache's ``fit`` stage, keyed by its training inputs only (plugin, version,
        options, seed, teacher, training settings and the benchmark's
        :meth:`~harness.benchmarks.base.Benchmark.training_fingerprints`), and a corpus or qrels
        edit re-evaluates the stored fit instead of re-training.  Implement it only if ``fit``
        reads nothing of the evaluated data (corpus, queries, qrels).  The default raises
        NotImplementedError: the method is fitted every time its cell is computed.
        :class:`harness.fitted.SavesFittedRetriever` implements both for retrievers with
        ``save_fitted``/``load_fitted`` (the built-in students do).
        """
        raise NotImplementedError(f"method {self.name or type(self).__name__!r} does not save its fits")

    def load(self, directory: Path, ctx: FitContext) -> Encoder | Searcher:
        """The retriever :meth:`save` wrote into ``directory``, rebuilt with ``ctx`` (its teacher, device).

        Must encode (or search) exactly as the saved one did.  See :meth:`save`.
        """
        raise NotImplementedError(f"method {self.name or type(self).__name__!r} does not load fits")

    @classmethod
    def fit_cached(cls) -> bool:
        """Whether the method implements :meth:`save` and :meth:`load` (its fits are cached by their training inputs)."""
        return cls.save is not Method.save and cls.load is not Method.load


def _config_argument(cls: type) -> type[BaseModel] | None:
    """``X`` when ``cls`` subclasses ``Method[X]`` directly with a concrete model ``X``, else None."""
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is Method:
            (arg,) = get_args(base)
            return arg if isinstance(arg, type) and issubclass(arg, BaseModel) else None
    return None


class Executor(abc.ABC):
    """Base class of executors: they run cells and yield each one's output as it finishes.

    An executor never writes results itself: the driver (``harness.runner``) caches each
    :data:`~harness.cells.CellOutput` and writes the run directory.  ``engine`` is the driver's
    :class:`harness.engine.Engine` (typed loosely: this module sits below the engine).  Subclasses set a
    closed ``Config`` (the ``[executor]`` table's keys besides ``kind``) and implement
    :meth:`run`; :meth:`device` may fix the device cells run on (e.g. CUDA on GPU workers).
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, options: BaseModel | None, engine: Any):
        from harness.options import validate_section

        self.options = validate_section(self.Config, options, "executor")
        self.engine = engine
        #: The driver's line logger (set by ``harness.runner`` before :meth:`run`); executors may
        #: name the stages they run with it (lines go above any progress bar, or to a log file).
        self.log: Callable[[str], None] = lambda line: None
        #: The planned work of the cells to run and of the shared stages they need (set by the
        #: driver before :meth:`run`; None when it could not be estimated): executors mark pieces
        #: finished (``work.finish((world, method, seed))``, ``work.finish(("teacher", world, seed))``)
        #: and show its ETA (:mod:`harness.progress`).
        self.work: WorkEta | None = None

    @classmethod
    def device(cls, options: BaseModel) -> str | None:
        """The device cells run on, or None for the config's ``device``."""
        return None

    @abc.abstractmethod
    def run(self, cells: Sequence["CellSpec"], progress: bool = False) -> Iterator["CellOutput"]:
        """Compute ``cells`` (none is cached) and yield one output per cell, in any order."""
