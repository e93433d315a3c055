"""Saving and loading fitted retrievers: the contract behind the engine's ``fit`` stage.

A method's fit is cached by its *training inputs only* (:meth:`harness.engine.Engine.fit_key`:
the plugin, its version and options, the seed, the teacher's key, the training settings and the
benchmark's training-data fingerprints, :meth:`harness.benchmarks.base.Benchmark.training_fingerprints`),
so editing a passage or a qrels line re-evaluates a stored fit instead of re-training.  A method
opts in by implementing :meth:`harness.plugin.Method.save` and :meth:`harness.plugin.Method.load`;
one that does not is fitted whenever its cell is computed (and its cell's info says so).

A method whose fit returns retrievers that know how to store themselves uses
:class:`SavesFittedRetriever`: a retriever class implements

* ``save_fitted(directory)``: write its fitted state (weights, statistics) into an empty directory;
* ``load_fitted(directory, ctx)`` (a classmethod): rebuild it from that directory and the
  :class:`~harness.plugin.FitContext` (its frozen parts, e.g. ``ctx.teacher``, come from there).

The built-in ones do: :class:`harness.models.encoder.BiEncoder` (a trained student),
``methods._alignment.QuerySideEncoder`` (student queries, teacher documents) and
``methods.language_centring.CentredEncoder``.  :func:`save_retriever` records the class's import
path next to its state, and :func:`load_retriever` imports it back.  A loaded retriever must encode
exactly as the one saved (float32 weights round-trip exactly through safetensors).

Only a method whose fit reads nothing but its training inputs (bitext, training pairs, the language
list and the teacher) may opt in; a method that reads the evaluated corpus, queries or qrels while
fitting (e.g. ``planted-effect`` reads query translations) must not.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

#: The file naming a saved retriever's class (``{"class": "module:QualName", "format": 1}``).
FITTED_META = "fitted.json"
FORMAT = 1


class FitNotSavableError(TypeError):
    """A fitted retriever cannot be saved (its class implements no ``save_fitted``/``load_fitted``)."""


def savable(retriever: Any) -> bool:
    """Whether ``retriever``'s class implements ``save_fitted`` and ``load_fitted``."""
    cls = type(retriever)
    return callable(getattr(cls, "save_fitted", None)) and callable(getattr(cls, "load_fitted", None))


def save_retriever(retriever: Any, directory: Path) -> None:
    """Write ``retriever`` into ``directory`` (created): its class's import path and its ``save_fitted`` state.

    Raises :class:`FitNotSavableError` naming the class when it cannot be saved.
    """
    cls = type(retriever)
    if not savable(retriever):
        raise FitNotSavableError(
            f"cannot save a fitted {cls.__module__}.{cls.__qualname__}: it implements no save_fitted(directory) / "
            "load_fitted(directory, ctx) (see harness.fitted); implement them, or do not implement Method.save/load "
            "(the method is then fitted every time its cell is computed)"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    retriever.save_fitted(directory / "state")
    meta = {"class": f"{cls.__module__}:{cls.__qualname__}", "format": FORMAT}
    (directory / FITTED_META).write_text(json.dumps(meta), encoding="utf-8")


def load_retriever(directory: Path, ctx: Any) -> Any:
    """The retriever :func:`save_retriever` wrote into ``directory``, rebuilt with ``ctx`` (a FitContext)."""
    directory = Path(directory)
    meta = json.loads((directory / FITTED_META).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{directory / FITTED_META}: unknown fitted-retriever format {meta.get('format')!r}")
    module, _, qualname = str(meta["class"]).partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not callable(getattr(obj, "load_fitted", None)):
        raise FitNotSavableError(f"{directory}: class {meta['class']} implements no load_fitted(directory, ctx)")
    return obj.load_fitted(directory / "state", ctx)


class SavesFittedRetriever:
    """Mixin for a :class:`~harness.plugin.Method` whose fit returns retrievers with ``save_fitted``/``load_fitted``.

    Gives the method :meth:`save` and :meth:`load` (so its fits are cached by their training
    inputs): ``class MyMethod(SavesFittedRetriever, Method)``.
    """

    def save(self, retriever: Any, directory: Path) -> None:
        """Write ``retriever`` (what ``fit`` returned, or a checkpoint's encoder) into ``directory``."""
        save_retriever(retriever, directory)

    def load(self, directory: Path, ctx: Any) -> Any:
        """The retriever :meth:`save` wrote into ``directory``, rebuilt with ``ctx``."""
        return load_retriever(directory, ctx)
