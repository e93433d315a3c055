"""Method plugin registry: a decorator, entry-point discovery, validation at registration.

Built-in methods and third-party ones are found the same way, through the
``harness.methods`` entry-point group::

    [project.entry-points."harness.methods"]
    my-method = "my_package.my_method:MyMethod"

Importing the module runs ``@register_method("my-method")``, which validates the class.
A plugin that fails to import or validate is recorded as *broken* with its error, and
does not stop the others from being listed or used.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from harness.errors import PluginError, UnknownMethodError

GROUP = "harness.methods"
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


@dataclass(frozen=True)
class MethodInfo:
    """A registered (or broken) plugin as listed by ``harness methods``."""

    name: str
    version: str
    distribution: str
    description: str
    kind: str
    cls: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


_registry: dict[str, type] = {}
_broken: dict[str, MethodInfo] = {}
_dists: dict[str, str] = {}
_lock = threading.RLock()
_discovered = False


def validate_method_class(name: str, cls: Any) -> None:
    """Raise :class:`PluginError` naming the plugin and what is wrong with it."""
    from pydantic import BaseModel

    from harness.plugin import Method

    where = f"method plugin {name!r} ({getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s})"
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PluginError(f"{where}: name must be lower-case words joined by '-' or '_' (e.g. 'ot-distill'), got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise PluginError(f"{where}: must be a subclass of harness.plugin.Method")
    if not isinstance(cls.version, str) or not cls.version.strip():
        raise PluginError(f"{where}: class attribute `version` must be a non-empty string, got {cls.version!r}")
    if not isinstance(cls.citation, str) or not cls.citation.strip().startswith("@"):
        raise PluginError(f"{where}: class attribute `citation` must be a BibTeX entry starting with '@', got {cls.citation!r:.60}")
    if not cls.description():
        raise PluginError(f"{where}: needs a docstring whose first line describes the method")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, BaseModel)):
        raise PluginError(f"{where}: `Config` must be a pydantic BaseModel subclass, got {cls.Config!r}")
    if cls.Config.model_config.get("extra") != "forbid":
        raise PluginError(f"{where}: `Config` must set model_config extra='forbid' so unknown options are errors")
    if cls.kind not in ("dense", "lexical"):
        raise PluginError(f"{where}: `kind` must be 'dense' or 'lexical', got {cls.kind!r}")
    if getattr(cls.fit, "__isabstractmethod__", False):
        raise PluginError(f"{where}: must implement fit(ctx)")
    try:
        cls.Config()
    except Exception as e:  # noqa: BLE001 - any failure here is the plugin's fault
        raise PluginError(f"{where}: `Config()` must be constructible with defaults: {e}") from e


def register_method(name: str):
    """Class decorator registering a method plugin under ``name`` (validated now)."""

    def deco(cls):
        validate_method_class(name, cls)
        with _lock:
            existing = _registry.get(name)
            if existing is not None and existing is not cls and (
                existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
                raise PluginError(
                    f"method name {name!r} is already registered by {existing.__module__}.{existing.__qualname__}; "
                    f"{cls.__module__}.{cls.__qualname__} cannot register it again. Rename one of them."
                )
            cls.name = name
            _registry[name] = cls
        return cls

    return deco


def unregister_method(name: str) -> None:
    """Remove a registration (for tests)."""
    with _lock:
        _registry.pop(name, None)
        _dists.pop(name, None)


def discover(force: bool = False) -> None:
    """Import every ``harness.methods`` entry point; broken ones are recorded, not raised."""
    global _discovered
    with _lock:
        if _discovered and not force:
            return
        seen: set[str] = set()
        for ep in metadata.entry_points(group=GROUP):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = ep.dist.name if ep.dist is not None else "?"
            if ep.dist is not None:
                dist = f"{dist} {ep.dist.version}"
            try:
                cls = ep.load()
                if getattr(cls, "name", None) != ep.name or _registry.get(ep.name) is not cls:
                    # Entry point names a class not decorated (or under another name): register it here.
                    register_method(ep.name)(cls)
                _dists[ep.name] = dist
                _broken.pop(ep.name, None)
            except Exception as e:  # noqa: BLE001 - a broken plugin must not break the others
                _registry.pop(ep.name, None)
                _broken[ep.name] = MethodInfo(
                    name=ep.name, version="?", distribution=dist, description="", kind="?",
                    error=f"{type(e).__name__}: {e}",
                )
        _discovered = True


def get_method(name: str) -> type:
    """The plugin class registered as ``name``; :class:`UnknownMethodError` otherwise."""
    discover()
    with _lock:
        if name in _registry:
            return _registry[name]
        if name in _broken:
            raise PluginError(f"method plugin {name!r} is installed but broken: {_broken[name].error}")
        raise UnknownMethodError(name, _registry)


def available_methods() -> list[str]:
    discover()
    return sorted(_registry)


def list_methods() -> list[MethodInfo]:
    """Registered and broken plugins, sorted by name."""
    discover()
    out = []
    with _lock:
        for name, cls in _registry.items():
            out.append(MethodInfo(
                name=name, version=cls.version, distribution=_dists.get(name, cls.__module__.split(".")[0]),
                description=cls.description(), kind=cls.kind, cls=cls,
            ))
        out.extend(_broken.values())
    return sorted(out, key=lambda m: m.name)


def method_distribution(name: str) -> str:
    discover()
    return _dists.get(name, "")
