"""Exceptions a user can act on.

Every exception says what was wrong, where, the value received, what is allowed and
how to fix it.  They subclass built-ins so callers can catch them generically.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable


def did_you_mean(value: str, allowed: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest allowed name, or ``""``."""
    matches = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.5)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _restore(cls, args, state):
    obj = cls.__new__(cls)
    Exception.__init__(obj, *args)
    obj.__dict__.update(state)
    return obj


class HarnessError(Exception):
    """Base class of the harness's own errors.

    Picklable whatever a subclass's ``__init__`` takes, so errors cross process
    boundaries (Ray workers, multiprocessing) intact.
    """

    def __reduce__(self):
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class ConfigError(HarnessError, ValueError):
    """A configuration value is invalid.

    Parameters
    ----------
    path : str
        Dotted key path, e.g. ``methods.ot-distill.epsilon``.
    value : object
        The value received.
    allowed : str
        What is allowed, in words.
    hint : str, optional
        How to fix it.
    source : str, optional
        The file the value came from.
    """

    def __init__(self, path: str, value: object, allowed: str, hint: str = "", source: str = ""):
        self.path, self.value, self.allowed, self.hint, self.source = path, value, allowed, hint, source
        where = f" in {source}" if source else ""
        msg = f"invalid config{where}: `{path}` = {value!r}; allowed: {allowed}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class UnknownPluginError(HarnessError, LookupError):
    """No method, benchmark or executor is registered under a name."""

    def __init__(self, kind: str, name: str, available: Iterable[str]):
        available = sorted(available)
        self.kind, self.name, self.available = kind, name, available
        super().__init__(
            f"unknown {kind} {name!r}{did_you_mean(name, available)}; registered {kind}s: "
            f"{', '.join(available) or '(none)'}. Run `harness plugins` to list them with the "
            "distribution that provides each."
        )


class UnknownMethodError(UnknownPluginError):
    def __init__(self, name: str, available: Iterable[str]):
        super().__init__("method", name, available)


class UnknownLanguageError(HarnessError, LookupError):
    def __init__(self, language: str, benchmark: str, available: Iterable[str]):
        available = sorted(available)
        self.language, self.available = language, available
        super().__init__(
            f"unknown language {language!r} for benchmark {benchmark!r}"
            f"{did_you_mean(language, available)}; available: {', '.join(available)}"
        )


class PluginError(HarnessError, TypeError):
    """A method plugin is malformed (raised at registration)."""


class DataFormatError(HarnessError, ValueError):
    """A data file is malformed or inconsistent.

    Parameters
    ----------
    source : str or Path
        The file (or ir_datasets dataset id) that is wrong.
    problem : str
        What is wrong, including what was expected.
    line : int, optional
        1-based line number in ``source``.
    hint : str, optional
        How to fix it.
    """

    def __init__(self, source: str | os.PathLike, problem: str, line: int | None = None, hint: str = ""):
        self.source, self.problem, self.line, self.hint = str(source), problem, line, hint
        where = f"{source}, line {line}" if line is not None else f"{source}"
        msg = f"{where}: {problem}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class DataUnavailableError(HarnessError, FileNotFoundError):
    """Benchmark data or model weights are not available offline."""


class CacheCorruptError(HarnessError, OSError):
    """A cache entry failed its checksum."""


class NonFiniteLossError(HarnessError, FloatingPointError):
    """Training produced a NaN or infinite loss."""

    def __init__(self, method: str, seed: int, step: int, loss: float, hint: str = ""):
        self.method, self.seed, self.step, self.loss = method, seed, step, loss
        msg = f"non-finite loss in method {method!r}, seed {seed}, step {step}: loss = {loss!r}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class RunLockedError(HarnessError, RuntimeError):
    """Another process is writing the same run directory."""


class RunFinishedError(HarnessError, FileExistsError):
    """A run directory holds another config's run; a finished run directory is never rewritten."""


class StatisticsError(HarnessError, ValueError):
    """The results table cannot support the requested analysis."""
