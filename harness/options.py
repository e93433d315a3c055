"""Typed option models: validation with errors a user can act on.

Every options model of the harness (config sections, benchmark, executor and method
options) is a pydantic model with ``extra="forbid"``.  :func:`validate_section` is the one
place that turns pydantic's errors into :class:`~harness.errors.ConfigError` naming the
dotted key path, the value received, what is allowed and, for unknown keys, the closest
allowed name.  It imports nothing from the rest of the harness but ``harness.errors``, so
any module may use it without an import circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import ConfigError, did_you_mean

M = TypeVar("M", bound=BaseModel)

__all__ = ["Options", "validate_section", "validation_to_config_error"]


class Options(BaseModel):
    """Base of closed, frozen option models (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _model_at(model: type[BaseModel], loc: Sequence[str]) -> tuple[type[BaseModel] | None, Any]:
    """The (nested) model holding the field at ``loc[-1]``, and that field's info (best effort).

    Dictionary keys in ``loc`` (e.g. a language code under ``languages``) are skipped: the
    walk descends into the value type of the mapping.
    """
    current: Any = model
    info = None
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None, None
        f = current.model_fields.get(part)
        if f is None:  # a mapping key: stay on the value type
            continue
        info = f
        current = f.annotation
        models = [a for a in getattr(current, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if models:
            current = models[0]
    return (current if isinstance(current, type) and issubclass(current, BaseModel) else None), info


def _describe(info: Any) -> str:
    if info is None:
        return ""
    ann = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
    bits = [str(ann)]
    for m in info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bits.append(f"{sym} {getattr(m, attr)}")
    if info.description:
        bits.append(f"({info.description})")
    return " ".join(bits)


def validation_to_config_error(
    e: ValidationError, model: type[BaseModel], prefix: str, source: str = ""
) -> ConfigError:
    """Turn the first pydantic error of ``e`` into a :class:`ConfigError` with a dotted key path."""
    err = e.errors()[0]
    loc = tuple(str(x) for x in err["loc"])
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError):  # raised by a validator: keep its message, re-anchor its path here
        ipath = inner.path
        section = prefix.rsplit(".", 1)[-1] if prefix else ""
        if prefix and not ipath.startswith(prefix + "."):
            if "." in ipath and ipath.split(".", 1)[0] == section:  # the validator named its own section ("mini.heads")
                ipath = f"{prefix}.{ipath.split('.', 1)[1]}"
            else:  # a path inside this section ("languages.sw") or just the field
                ipath = ".".join((prefix, *loc[:-1], ipath))
        return ConfigError(ipath, inner.value, inner.allowed, inner.hint, source or inner.source)
    path = ".".join(x for x in (prefix, *loc) if x)
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        holder, _ = _model_at(model, loc[:-1]) if loc[:-1] else (model, None)
        known: list[str] = list(holder.model_fields) if holder is not None else []
        return ConfigError(
            path,
            value,
            f"known keys: {', '.join(known) or '(none)'}",
            hint=f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], known)}; remove or rename it",
            source=source,
        )
    _, info = _model_at(model, loc)
    if err["type"] == "missing":
        return ConfigError(path, None, _describe(info) or "a value", hint="this key is required", source=source)
    allowed = _describe(info) or "see the documentation of this section"
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        allowed = f"one of {ctx['expected']}"
    return ConfigError(path, value, allowed, hint=err.get("msg", ""), source=source)


def validate_section(model: type[M], data: M | Mapping[str, Any] | None, prefix: str, source: str = "") -> M:
    """Validate ``data`` (a mapping, or already a ``model``) into ``model``.

    Raises :class:`ConfigError` on the first problem, with the key path ``<prefix>.<field>``.
    """
    if isinstance(data, model):
        return data
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(prefix, data, "a table of options", source=source)
    try:
        return model(**dict(data))
    except ValidationError as e:
        raise validation_to_config_error(e, model, prefix, source) from None
    except ConfigError as e:
        if source and not e.source:
            raise ConfigError(e.path, e.value, e.allowed, e.hint, source) from e
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(prefix, dict(data), "valid options for this section", hint=str(e), source=source) from e
