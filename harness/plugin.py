"""What a method plugin is, and what the harness hands it.

A plugin is a subclass of :class:`Method` with a typed, closed ``Config`` (a pydantic
model), a ``version``, a BibTeX ``citation`` and a docstring whose first line is a
one-line description.  ``fit(ctx)`` returns either

* an :class:`Encoder` (dense methods): the harness encodes queries and documents and runs
  exact search itself, so metrics are identical across methods; or
* a :class:`Searcher` (lexical methods such as BM25): the harness gives it queries and a
  corpus and takes back ranked lists.

Example
-------
>>> from pydantic import BaseModel
>>> from harness import Method, register_method
>>> @register_method("my-method")          # doctest: +SKIP
... class MyMethod(Method):
...     '''Zero-shot teacher, renamed.  Objective: none (no training).'''
...     version = "1.0"
...     citation = "@misc{me, title={Mine}}"
...     class Config(BaseModel):
...         model_config = {"extra": "forbid"}
...     def fit(self, ctx):
...         return ctx.teacher
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # heavy imports stay lazy
    import torch

    from harness.benchmarks.base import Benchmark, LanguageData


@runtime_checkable
class Encoder(Protocol):
    """Dense retriever: maps texts to L2-normalised float32 vectors (``(n, dim)``)."""

    def encode_queries(self, texts: Sequence[str], language: str) -> "torch.Tensor": ...

    def encode_documents(self, texts: Sequence[str], language: str) -> "torch.Tensor": ...


@runtime_checkable
class Searcher(Protocol):
    """Lexical (or otherwise non-dense) retriever."""

    def search(
        self, queries: Mapping[str, str], data: "LanguageData", k: int
    ) -> dict[str, dict[str, float]]: ...


class EmptyConfig(BaseModel):
    """Config of a method that takes no options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class FitContext:
    """Everything a method may use while fitting one (method, seed) cell.

    Attributes
    ----------
    benchmark : Benchmark
        Data (bitext, pivot training pairs, languages and tiers).
    teacher : Encoder
        The pivot-fine-tuned teacher for this seed (a ``harness.models.BiEncoder``); treat
        it as frozen: copy it before training a student.
    seed : int
        The cell's seed.
    rng : numpy.random.Generator
        The cell's random generator (from ``SeedSequence([seed, hash(method)])``).
    device : str
        ``"cpu"`` or ``"cuda"`` (resolved from the config's ``device = "auto"``).
    method : str
        The registered method name (for messages).
    cache_dir : Path
        A directory this method may use for its own caches (e.g. translations),
        shared across seeds and runs.
    progress : bool
        Whether progress bars may be shown.
    training : Mapping[str, Any]
        Shared training defaults from the config (batch size, grad clip...).
    """

    benchmark: "Benchmark"
    teacher: Any
    seed: int
    rng: np.random.Generator
    device: str
    method: str
    cache_dir: Path
    progress: bool = False
    training: Mapping[str, Any] = field(default_factory=dict)
    base_model: Any = None


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

    def __init__(self, config: BaseModel | Mapping[str, Any] | None = None):
        if config is None:
            config = self.Config()
        elif not isinstance(config, BaseModel):
            config = self.Config(**dict(config))
        self.config = config

    @classmethod
    def description(cls) -> str:
        """First line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""

    @abc.abstractmethod
    def fit(self, ctx: FitContext) -> Encoder | Searcher:
        """Train (or not) and return a retriever for every language of the benchmark."""
