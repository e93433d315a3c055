"""One registry for every kind of extension: methods, benchmarks and executors.

Each kind has its own entry-point group, and built-ins register through the same groups
as third parties (see ``pyproject.toml``)::

    [project.entry-points."harness.methods"]
    my-method = "my_package.my_method:MyMethod"
    [project.entry-points."harness.benchmarks"]
    my-data = "my_package.data:MyBenchmark"
    [project.entry-points."harness.executors"]
    my-cluster = "my_package.cluster:MyExecutor"

An entry is a *(name, options model, class)*: the class carries its typed, closed options
model as ``Config`` (a pydantic model with ``extra="forbid"``), a docstring whose first
line describes it, and, for methods, a ``version`` and a BibTeX ``citation``.  Classes are
validated when registered (:class:`~harness.errors.PluginError` names the class and what
is wrong).  A plugin that fails to import or validate is recorded as *broken* with its
error; it does not stop the others from being listed or used.

Registering without packaging (tests, notebooks): decorate the class with
``@register_method("name")`` / ``@register_benchmark`` / ``@register_executor``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

from harness.errors import PluginError, UnknownMethodError, UnknownPluginError

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
T = TypeVar("T", bound=type)

__all__ = [
    "BENCHMARKS",
    "EXECUTORS",
    "METHODS",
    "PluginInfo",
    "Registry",
    "get_method",
    "list_methods",
    "register_benchmark",
    "register_executor",
    "register_method",
    "unregister_method",
]


@dataclass(frozen=True)
class PluginInfo:
    """A registered (or broken) extension as listed by ``harness plugins``."""

    kind: str
    name: str
    version: str
    distribution: str
    description: str
    flavour: str = ""  # methods: "dense" | "lexical"
    cls: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _description(cls: Any) -> str:
    doc = (getattr(cls, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


class Registry:
    """Registered classes of one kind, discovered through one entry-point group.

    Parameters
    ----------
    kind : str
        ``"method"``, ``"benchmark"`` or ``"executor"`` (for messages).
    group : str
        The entry-point group, e.g. ``"harness.methods"``.
    base : Callable[[], type]
        Returns the base class every entry must subclass (imported lazily).
    checks : Callable[[str, type], None], optional
        Kind-specific validation; raise :class:`PluginError` with the message's tail.
    """

    def __init__(
        self, kind: str, group: str, base: Callable[[], type], checks: Callable[[str, type], None] | None = None
    ):
        self.kind, self.group, self._base, self._checks = kind, group, base, checks
        self._classes: dict[str, type] = {}
        self._broken: dict[str, PluginInfo] = {}
        self._dists: dict[str, str] = {}
        self._lock = threading.RLock()
        self._discovered = False

    # ----------------------------------------------------------------- validation
    def validate(self, name: str, cls: Any) -> None:
        """Raise :class:`PluginError` naming the plugin and what is wrong with it."""
        from pydantic import BaseModel

        where = f"{self.kind} plugin {name!r} ({getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s})"
        base = self._base()
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise PluginError(
                f"{where}: name must be lower-case words joined by '-' or '_' (e.g. 'ot-distill'), got {name!r}"
            )
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"{where}: must be a subclass of {base.__module__}.{base.__qualname__}")
        if not _description(cls):
            raise PluginError(f"{where}: needs a docstring whose first line describes it")
        config = getattr(cls, "Config", None)
        if not (isinstance(config, type) and issubclass(config, BaseModel)):
            raise PluginError(f"{where}: `Config` must be a pydantic BaseModel subclass, got {config!r}")
        if config.model_config.get("extra") != "forbid":
            raise PluginError(f"{where}: `Config` must set model_config extra='forbid' so unknown options are errors")
        abstract = sorted(getattr(cls, "__abstractmethods__", ()))
        if abstract:
            raise PluginError(f"{where}: must implement {', '.join(abstract)}")
        if self._checks is not None:
            try:
                self._checks(name, cls)
            except PluginError as e:
                raise PluginError(f"{where}: {e}") from e

    # ----------------------------------------------------------------- registration
    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator registering ``cls`` under ``name`` (validated now)."""

        def deco(cls: T) -> T:
            self.validate(name, cls)
            with self._lock:
                existing = self._classes.get(name)
                if (
                    existing is not None
                    and existing is not cls
                    and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__)
                ):
                    raise PluginError(
                        f"{self.kind} name {name!r} is already registered by {existing.__module__}."
                        f"{existing.__qualname__}; {cls.__module__}.{cls.__qualname__} cannot register it again. "
                        "Rename one of them."
                    )
                cls.name = name  # type: ignore[attr-defined]
                self._classes[name] = cls
                self._broken.pop(name, None)
            return cls

        return deco

    def unregister(self, name: str) -> None:
        """Remove a registration (for tests)."""
        with self._lock:
            self._classes.pop(name, None)
            self._dists.pop(name, None)
            self._broken.pop(name, None)

    def discover(self, force: bool = False) -> None:
        """Import every entry point of the group; broken ones are recorded, not raised."""
        with self._lock:
            if self._discovered and not force:
                return
            seen: set[str] = set()
            for ep in metadata.entry_points(group=self.group):
                if ep.name in seen:
                    continue
                seen.add(ep.name)
                dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "?"
                try:
                    cls = ep.load()
                    if getattr(cls, "name", None) != ep.name or self._classes.get(ep.name) is not cls:
                        self.register(ep.name)(cls)
                    self._dists[ep.name] = dist
                except Exception as e:  # noqa: BLE001 - a broken plugin must not break the others
                    self._classes.pop(ep.name, None)
                    self._broken[ep.name] = PluginInfo(
                        self.kind, ep.name, "?", dist, "", error=f"{type(e).__name__}: {e}"
                    )
            self._discovered = True

    # ----------------------------------------------------------------- look-up
    def get(self, name: str) -> Any:
        """The class registered as ``name``; :class:`UnknownPluginError` (a LookupError) otherwise."""
        self.discover()
        with self._lock:
            if name in self._classes:
                return self._classes[name]
            if name in self._broken:
                raise PluginError(f"{self.kind} plugin {name!r} is installed but broken: {self._broken[name].error}")
            if self.kind == "method":
                raise UnknownMethodError(name, self._classes)
            raise UnknownPluginError(self.kind, name, self._classes)

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._classes)

    def distribution(self, name: str) -> str:
        self.discover()
        return self._dists.get(name, "")

    def entries(self) -> list[PluginInfo]:
        """Registered and broken entries, sorted by name."""
        self.discover()
        out = []
        with self._lock:
            for name, cls in self._classes.items():
                out.append(
                    PluginInfo(
                        self.kind,
                        name,
                        str(getattr(cls, "version", "") or ""),
                        self._dists.get(name, cls.__module__.split(".")[0]),
                        _description(cls),
                        str(getattr(cls, "kind", "")) if self.kind == "method" else "",
                        cls=cls,
                    )
                )
            out.extend(self._broken.values())
        return sorted(out, key=lambda m: m.name)


# --------------------------------------------------------------------------- the three kinds
def _method_base() -> type:
    from harness.plugin import Method

    return Method


def _benchmark_base() -> type:
    from harness.benchmarks.base import Benchmark

    return Benchmark


def _executor_base() -> type:
    from harness.plugin import Executor

    return Executor


def _check_method(name: str, cls: Any) -> None:
    if not isinstance(cls.version, str) or not cls.version.strip():
        raise PluginError(f"class attribute `version` must be a non-empty string, got {cls.version!r}")
    if not isinstance(cls.citation, str) or not cls.citation.strip().startswith("@"):
        raise PluginError(
            f"class attribute `citation` must be a BibTeX entry starting with '@', got {cls.citation!r:.60}"
        )
    if cls.kind not in ("dense", "lexical"):
        raise PluginError(f"`kind` must be 'dense' or 'lexical', got {cls.kind!r}")
    if not isinstance(cls.control, str):
        raise PluginError(f"`control` must be a string (empty: not a control), got {cls.control!r:.60}")
    try:
        cls.Config()
    except Exception as e:  # noqa: BLE001 - any failure here is the plugin's fault
        raise PluginError(f"`Config()` must be constructible with defaults: {e}") from e


METHODS = Registry("method", "harness.methods", _method_base, _check_method)
BENCHMARKS = Registry("benchmark", "harness.benchmarks", _benchmark_base)
EXECUTORS = Registry("executor", "harness.executors", _executor_base)
KINDS: dict[str, Registry] = {"method": METHODS, "benchmark": BENCHMARKS, "executor": EXECUTORS}

register_method = METHODS.register
register_benchmark = BENCHMARKS.register
register_executor = EXECUTORS.register
unregister_method = METHODS.unregister
get_method = METHODS.get
list_methods = METHODS.entries


def available_methods() -> list[str]:
    return METHODS.names()


def method_distribution(name: str) -> str:
    return METHODS.distribution(name)


def discover(force: bool = False) -> None:
    """Discover the entry points of every kind (see :meth:`Registry.discover`)."""
    for reg in KINDS.values():
        reg.discover(force)
