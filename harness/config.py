"""TOML matrix configuration: loading, validation, normalisation, hashing.

A config names a benchmark, a base model, seeds, metrics, the methods with their options,
analysis options and an output directory.  Everything is validated once, at load time:
unknown keys, unknown methods or languages and out-of-range values raise
:class:`~harness.errors.ConfigError` naming the key path, the value, what is allowed and,
for names, the closest allowed one.  The normalised config (every default filled in) is
hashed with sha256; that hash names the run directory and is recorded in the manifest.

Layout (see ``harness/configs/default.toml``)::

    name = "default"
    seeds = [0, 1, 2]
    metrics = ["ndcg@10", "recall@100", "mrr@10"]
    device = "auto"                 # auto | cpu | cuda
    [benchmark]                     # name + that adapter's options
    name = "synthetic"
    [model]                         # base encoder
    base = "mini"                   # "mini" (synthetic only) or a from_pretrained path/name
    [teacher]                       # pivot fine-tuning of the base encoder (per seed)
    [methods.zero-shot]             # one table per method, holding its options
    [methods.ot-distill]
    epsilon = 0.05
    [question]                      # the headline question's roles (treatment, comparator, baseline)
    [analysis]                      # statistics options
    [output]
    dir = "harness-runs"
"""

from __future__ import annotations

import importlib
import importlib.resources
import itertools
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.errors import ConfigError, UnknownMethodError, UnknownPluginError, did_you_mean
from harness.hashing import hash_json
from harness.models.mini import MiniOptions
from harness.options import validate_section
from harness.registry import BENCHMARKS, EXECUTORS, METHODS
from harness.stats.options import LEGACY_ROLES, ROLE_KEYS, AnalysisOptions, ConfigNote, QuestionOptions, legacy_roles
from harness.training import TeacherOptions, TrainingOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Largest run seed (seeds name runs and stay within 32 bits, as numpy and torch accept everywhere).
MAX_SEED = 2**32 - 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Section):
    """The base encoder."""

    base: str = Field("mini", description="'mini' (embedded, synthetic benchmark) or a from_pretrained path / hub name")
    pooling: Literal["mean", "cls"] = Field(
        "mean", description="text embedding: mean of the token vectors (padding excluded) or the [CLS] vector"
    )
    normalize: bool = Field(True, description="L2-normalise embeddings (scores are then cosine similarities)")
    max_length: int = Field(64, ge=8, le=8192, description="tokens per text, special tokens included")


class OutputSection(_Section):
    dir: str = Field("harness-runs", description="parent directory of run directories")


class IndexSection(_Section):
    """The document-index stage (:mod:`harness.index`): storage type and shard size.

    ``dtype = "float16"`` halves the disk and I/O of an index (MIRACL-en with mBERT:
    32.9M x 768 x 2 B = 50 GB) and moves cosine scores by ~1e-4 (rankings of near-ties can
    change); ``"float32"`` stores exactly what the encoder returned.  Search always
    accumulates in float64 and rounds scores once to float32 (:mod:`harness.search`).
    """

    dtype: Literal["float16", "float32"] = Field(
        "float16",
        description="storage type of document embeddings on disk (float32: exactly what the encoder returned)",
    )
    shard_size: int = Field(
        65536, ge=1, le=1 << 24, description="passages per index shard (the unit of memory, resume and Ray tasks)"
    )


class RawConfig(_Section):
    """Top-level shape; nested sections are validated by their own models."""

    name: str = Field(
        "run", min_length=1, max_length=100, description="names the run directory (letters, digits, - _ .)"
    )
    description: str = Field("", description="one line shown by `harness run --help` and in the report")
    seeds: list[int] = Field(
        default_factory=lambda: [0, 1, 2], min_length=1, description="run seeds (each trains its own teacher and cells)"
    )
    metrics: list[str] = Field(
        default_factory=lambda: ["ndcg@10", "recall@100", "mrr@10"],
        min_length=1,
        description="ranx metric names scored per query (cut-offs <= top_k)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when available, else CPU")
    top_k: int = Field(100, ge=1, le=10000, description="documents kept per query in run files")
    index: IndexSection = IndexSection()
    benchmark: dict[str, Any] = Field(default_factory=lambda: {"name": "synthetic"})
    model: ModelSection = ModelSection()
    mini: dict[str, Any] = Field(default_factory=dict)
    teacher: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = Field(min_length=1)
    question: dict[str, Any] = Field(default_factory=dict)
    analysis: dict[str, Any] = Field(default_factory=dict)
    executor: dict[str, Any] = Field(default_factory=lambda: {"kind": "local"})
    output: OutputSection = OutputSection()

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if any(s < 0 or s > MAX_SEED for s in v):
            bad = next(s for s in v if s < 0 or s > MAX_SEED)
            raise ConfigError(
                "seeds",
                bad,
                f"non-negative integers from 0 to {MAX_SEED} (2**32 - 1)",
                hint="seeds are run identities, e.g. seeds = [0, 1, 2]",
            )
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[str]) -> list[str]:
        from harness.evaluation import check_metric

        for m in v:
            check_metric(m)
        if len(set(v)) != len(v):
            raise ValueError("metrics must be distinct")
        return v

    @model_validator(mode="after")
    def _cutoffs(self) -> "RawConfig":
        from harness.evaluation import check_metric

        for m in self.metrics:
            k = check_metric(m)
            if k is not None and k > self.top_k:
                raise ConfigError(
                    "metrics",
                    m,
                    f"a cut-off <= top_k = {self.top_k}",
                    hint=f"runs keep the top {self.top_k} documents, so {m} would silently equal "
                    f"{m.split('@')[0]}@{self.top_k}; raise top_k or lower the cut-off",
                )
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        bad = set(v) - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        if bad or v.startswith("."):
            raise ValueError("name may use letters, digits, '-', '_' and '.' (it names the run directory)")
        return v


@dataclass(frozen=True)
class MethodEntry:
    """One method of the matrix: a registered plugin under a config name, with its options.

    ``name`` is what results, run files and the report call it; ``plugin`` the registered
    plugin it runs (``uses = "<plugin>"``, default: the name itself).  ``group`` names the
    ``[methods.<group>]`` table it came from (a sweep expands one table into several
    entries) and ``swept`` the option values that table's ``sweep`` set for this entry.
    """

    name: str
    options: BaseModel
    cls: Any = field(repr=False, compare=False, default=None)
    plugin: str = ""
    group: str = ""
    swept: tuple[tuple[str, Any], ...] = ()

    @property
    def version(self) -> str:
        return self.cls.version

    @property
    def table(self) -> dict[str, Any]:
        """The entry as a config table: ``uses`` (when it differs from the name) plus its options."""
        opts = self.options.model_dump(mode="json")
        return opts if self.plugin in ("", self.name) else {"uses": self.plugin, **opts}


@dataclass(frozen=True)
class HarnessConfig:
    """A validated, normalised configuration."""

    raw: RawConfig
    benchmark_name: str
    benchmark: BaseModel
    mini: MiniOptions | None
    teacher: TeacherOptions
    training: TrainingOptions
    methods: tuple[MethodEntry, ...]
    analysis: AnalysisOptions
    executor_name: str = "local"
    executor: BaseModel | None = None
    source: str = ""
    text: str = ""
    #: ``--set KEY=VALUE`` overrides applied over ``text`` (in order); the normalised config includes them
    overrides: tuple[str, ...] = ()
    question: QuestionOptions = field(default_factory=QuestionOptions)

    def analysis_for(self, mode: str | None) -> AnalysisOptions:
        """The analysis options of one evaluation mode: the question's roles in that mode
        (``[question.<mode>]`` over ``[question]``), ``exclude_pivot`` resolved (true in
        cross-lingual mode unless set)."""
        return self.analysis.model_copy(update=self.question.roles(mode))

    # convenient views
    @property
    def name(self) -> str:
        return self.raw.name

    @property
    def seeds(self) -> list[int]:
        return list(self.raw.seeds)

    @property
    def metrics(self) -> list[str]:
        return list(self.raw.metrics)

    @property
    def worlds(self) -> list[str]:
        """The benchmark instances the matrix runs on, as labels (the ``world`` column of the results).

        A benchmark whose options draw instances (``worlds``, e.g. the synthetic one): ``str(world seed)``
        for each; any other benchmark is one fixed instance labelled with its name.
        """
        drawn = getattr(self.benchmark, "worlds", None)
        return [str(w) for w in drawn] if drawn is not None else [self.benchmark_name]

    @property
    def worlds_kind(self) -> Literal["drawn", "fixed"]:
        """``"drawn"``: the worlds are seeded draws of a generator (a sample); ``"fixed"``: one given benchmark."""
        return "drawn" if getattr(self.benchmark, "worlds", None) is not None else "fixed"

    def for_world(self, world: str) -> "HarnessConfig":
        """This config on the one world ``world`` (one of :attr:`worlds`); itself when it has one world.

        Each world's engine is built from this config (its text travels to worker processes), so a
        world's base encoder, teachers and cells are keyed by that world's data alone.
        """
        if world not in self.worlds:
            from harness.errors import ConfigError

            raise ConfigError("benchmark.worlds", world, f"one of {self.worlds}")
        if len(self.worlds) == 1:
            return self
        data = self.normalized()
        data["benchmark"]["worlds"] = [int(world)]
        if self.mini is None:
            data.pop("mini", None)
        return config_from_dict(data, source=self.source, text=self.text)

    @property
    def model(self) -> ModelSection:
        return self.raw.model

    def normalized(self) -> dict[str, Any]:
        """The config with every default filled in, as plain JSON data."""
        d = self.raw.model_dump(mode="json")
        d["benchmark"] = {"name": self.benchmark_name, **self.benchmark.model_dump(mode="json")}
        d["mini"] = self.mini.model_dump(mode="json") if self.mini is not None else {}
        d["teacher"] = self.teacher.model_dump(mode="json")
        d["training"] = self.training.model_dump(mode="json")
        d["methods"] = {m.name: m.table for m in self.methods}
        d["question"] = self.question.table()
        d["analysis"] = self.analysis.model_dump(mode="json", exclude=set(ROLE_KEYS))
        d["executor"] = {
            "kind": self.executor_name,
            **(self.executor.model_dump(mode="json") if self.executor is not None else {}),
        }
        return d

    def sha256(self) -> str:
        """sha256 of the normalised config.

        The ``output`` and ``executor`` sections are excluded: where results are written
        and which executor computes them do not change them.
        """
        d = self.normalized()
        d.pop("output", None)
        d.pop("executor", None)
        return hash_json(d)

    @property
    def benchmark_cls(self) -> Any:
        return BENCHMARKS.get(self.benchmark_name)

    @property
    def executor_cls(self) -> Any:
        return EXECUTORS.get(self.executor_name)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_drop_none(self.normalized()))

    def with_executor(self, kind: str | None = None, *, address: str | None = None) -> "HarnessConfig":
        """This config with another executor (``kind``) and/or Ray ``address`` (validated)."""
        table: dict[str, Any] = {
            "kind": self.executor_name,
            **(self.executor.model_dump(mode="json") if self.executor is not None else {}),
        }
        if kind is not None and kind != self.executor_name:  # options of another kind do not apply; the limit does
            table = {"kind": kind, **({"cell_timeout": table["cell_timeout"]} if table.get("cell_timeout") else {})}
        if address is not None:
            table["address"] = address
        data = self.normalized()
        data["executor"] = table
        if self.mini is None:
            data.pop("mini", None)
        return config_from_dict(data, source=self.source, text=self.text, overrides=self.overrides)

    def method(self, name: str) -> MethodEntry:
        for m in self.methods:
            if m.name == name:
                return m
        raise UnknownMethodError(name, [m.name for m in self.methods])


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- loading
def default_config_text(name: str = "default") -> str:
    """Text of a config shipped inside the package (``harness/configs/<name>.toml``)."""
    res = importlib.resources.files("harness") / "configs" / f"{name}.toml"
    if not res.is_file():
        shipped = sorted(
            p.name[:-5]
            for p in (importlib.resources.files("harness") / "configs").iterdir()
            if p.name.endswith(".toml")
        )
        raise ConfigError(
            "config", name, f"a TOML file path, or a shipped config: {', '.join(shipped)}{did_you_mean(name, shipped)}"
        )
    return res.read_text()


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; a :class:`ConfigError` naming the file and the byte offset otherwise."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(
            what,
            str(path),
            "a UTF-8 text file",
            hint=f"byte {e.start} (line {line}) is {data[e.start : e.start + 1]!r}, not UTF-8; "
            "re-save the file as UTF-8",
            source=str(path),
        ) from None


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    sets: Sequence[str] = (),
) -> HarnessConfig:
    """Load and validate a TOML config; ``None`` loads the embedded default.

    ``path`` may also name a shipped config (``"default"``, ``"smoke"``).  ``overrides`` is
    a nested mapping merged over the file's tables; ``sets`` are ``KEY=VALUE`` strings as
    ``harness run --set`` takes them (:func:`parse_set`), applied in order after
    ``overrides``.  Both are validated exactly like the file, and the normalised config
    (hence :meth:`HarnessConfig.sha256`) includes them.
    """
    text, source = config_text(path)
    data = config_table(path, sets, overrides=overrides)
    if "sweep" in data:
        raise ConfigError(
            "sweep",
            data["sweep"],
            "no [sweep] table in a single run's config",
            hint="this config is a sweep: `harness run` expands it into one run per point (harness.sweep.load_sweep "
            "reads it)",
            source=source,
        )
    try:
        return config_from_dict(data, source=source, text=text, overrides=tuple(sets))
    except ConfigError as e:
        if not sets:
            raise
        raise ConfigError(
            e.path, e.value, e.allowed, e.hint, source=f"{source} with --set {' --set '.join(sets)}"
        ) from e


def config_table(
    path: str | Path | None = None, sets: Sequence[str] = (), *, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A config's tables as written, with ``overrides`` and then ``sets`` merged over them (not validated)."""
    text, source = config_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("config", source, "valid TOML", hint=str(e), source=source) from e
    if overrides:
        data = _merge(data, overrides)
    for item in sets:
        data = _merge(data, parse_set(item))
    return data


def config_text(path: str | Path | None = None) -> tuple[str, str]:
    """``(text, source)`` of a config: a TOML file, a shipped config's name, or (``None``) the default."""
    if path is None:
        return default_config_text("default"), "<embedded default.toml>"
    p = Path(path)
    if p.is_file():
        return read_text_file(p, "config"), str(p)
    if not p.suffix and "/" not in str(path):
        return default_config_text(str(path)), f"<embedded {path}.toml>"
    raise ConfigError("config", str(path), "an existing TOML file", hint="check the path", source=str(path))


#: ``--set`` values that are not TOML are taken as strings unless they look like a TOML array, table or quote.
_TOML_START = tuple("[{\"'")


def parse_set(item: str) -> dict[str, Any]:
    """One ``--set KEY=VALUE`` as a nested mapping.

    ``KEY`` is a dotted TOML key (``methods.ot-distill.steps``; quote a part holding a dot:
    ``methods."my.method".lr``).  ``VALUE`` is a TOML value (``100``, ``1e-4``, ``true``,
    ``[0, 1]``, ``{ high = 3 }``, ``"text"``); a bare word that is not TOML is a string, so
    ``--set analysis.primary_metric=recall@100`` works unquoted.

    Examples
    --------
    >>> parse_set("methods.ot-distill.steps=100")
    {'methods': {'ot-distill': {'steps': 100}}}
    >>> parse_set("seeds=[0,1]")
    {'seeds': [0, 1]}
    >>> parse_set("analysis.primary_metric=recall@100")
    {'analysis': {'primary_metric': 'recall@100'}}
    """
    key, eq, value = item.partition("=")
    key, value = key.strip(), value.strip()
    fmt = "KEY=VALUE with a dotted key and a TOML value, e.g. --set methods.ot-distill.steps=100 or --set seeds=[0,1]"
    if not eq or not key:
        raise ConfigError("--set", item, fmt)
    try:
        parsed = tomllib.loads(f"{key} = {value}")
    except tomllib.TOMLDecodeError:
        if not value or value.startswith(_TOML_START):
            raise ConfigError("--set", item, fmt, hint=f"{value!r} is not a TOML value") from None
        try:
            parsed = tomllib.loads(f"{key} = {_toml_string(value)}")
        except tomllib.TOMLDecodeError:
            raise ConfigError("--set", item, fmt, hint=f"{key!r} is not a dotted TOML key") from None
    return parsed


def _toml_string(value: str) -> str:
    import json

    return json.dumps(value)  # a JSON string of printable text is a TOML basic string


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _plugin_section(
    kind: str, key: str, section: str, table: Mapping[str, Any], default: str, source: str
) -> tuple[str, type, BaseModel]:
    """Resolve ``[section] key = "<name>"`` through the registry and validate the other keys."""
    from harness.registry import KINDS

    reg = KINDS[kind]
    rest = dict(table)
    name = rest.pop(key, default)
    try:
        cls = reg.get(name) if isinstance(name, str) else None
    except UnknownPluginError:
        cls = None
    if cls is None:
        known = reg.names()
        raise ConfigError(
            f"{section}.{key}",
            name,
            f"a registered {kind}: {', '.join(known)}",
            hint=f"unknown {kind}{did_you_mean(str(name), known)}; `harness plugins` lists them",
            source=source,
        )
    return name, cls, validate_section(cls.Config, rest, section, source)


#: A method's config name: it names run files (``runs/<method>/...``), so letters, digits and ``-_.@=,``.
_METHOD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@=,+-]{0,99}$")


def _format_value(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def _method_entries(tables: Mapping[str, Any], source: str) -> list[MethodEntry]:
    """``[methods.<name>]`` tables -> entries: ``uses`` picks the plugin, ``sweep`` expands into variants.

    ``sweep = { epochs = [1, 2, 3] }`` in ``[methods.ot-distill]`` gives three entries named
    ``ot-distill@epochs=1`` ... (several keys: the Cartesian product, ``@a=1,b=2``); every
    other option of the table is shared by them.
    """
    entries: list[MethodEntry] = []
    known = METHODS.names()
    for name, table in tables.items():
        path = f"methods.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(path, table, "a table of the method's options", source=source)
        if not _METHOD_NAME.match(name):
            raise ConfigError(path, name, "a name of letters, digits and - _ . (it names run files)", source=source)
        opts = dict(table)
        plugin = opts.pop("uses", name)
        sweep = opts.pop("sweep", None)
        if plugin not in known:
            key = f"{path}.uses" if "uses" in table else path
            raise ConfigError(
                key,
                plugin,
                f"a registered method: {', '.join(known)}",
                hint=f"unknown method{did_you_mean(str(plugin), known)}; `harness methods` lists them "
                '(a variant names its plugin with uses = "<plugin>")',
                source=source,
            )
        cls = METHODS.get(plugin)
        if sweep is None:
            entries.append(MethodEntry(name, validate_section(cls.Config, opts, path, source), cls, plugin, name))
            continue
        if not isinstance(sweep, Mapping) or not sweep:
            raise ConfigError(
                f"{path}.sweep",
                sweep,
                "a table of option -> list of values, e.g. { epochs = [1, 2, 3] }",
                source=source,
            )
        fields = list(cls.Config.model_fields)
        for key, values in sweep.items():
            if key not in fields:
                raise ConfigError(
                    f"{path}.sweep.{key}",
                    key,
                    f"an option of {plugin!r}: {', '.join(fields)}",
                    hint=f"unknown option{did_you_mean(key, fields)}",
                    source=source,
                )
            if key in opts:
                raise ConfigError(
                    f"{path}.sweep.{key}",
                    values,
                    "either a swept option or a fixed one",
                    hint=f"remove `{key}` from the table or from `sweep`",
                    source=source,
                )
            if not isinstance(values, list) or not values or len({repr(v) for v in values}) != len(values):
                raise ConfigError(f"{path}.sweep.{key}", values, "a non-empty list of distinct values", source=source)
        keys = list(sweep)
        for combo in itertools.product(*(sweep[k] for k in keys)):
            swept = tuple(zip(keys, combo))
            vname = f"{name}@" + ",".join(f"{k}={_format_value(v)}" for k, v in swept)
            options = validate_section(cls.Config, {**opts, **dict(swept)}, path, source)
            entries.append(MethodEntry(vname, options, cls, plugin, name, swept))
    names = [e.name for e in entries]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ConfigError(
            "methods", dup, "distinct method names", hint="two tables or sweeps give the same name", source=source
        )
    return entries


def config_from_dict(
    data: Mapping[str, Any], source: str = "", text: str = "", overrides: tuple[str, ...] = ()
) -> HarnessConfig:
    raw = validate_section(RawConfig, data, "", source)

    bname, _, bopts = _plugin_section("benchmark", "name", "benchmark", raw.benchmark, "synthetic", source)
    ename, _, eopts = _plugin_section("executor", "kind", "executor", raw.executor, "local", source)

    if raw.model.base == "mini" and bname != "synthetic":
        raise ConfigError(
            "model.base",
            "mini",
            "a from_pretrained path or hub name (e.g. bert-base-multilingual-cased)",
            hint="the embedded 'mini' encoder is pre-trained on the synthetic benchmark's corpus only",
            source=source,
        )
    mini = validate_section(MiniOptions, raw.mini, "mini", source) if raw.model.base == "mini" else None
    if raw.model.base != "mini" and raw.mini:
        raise ConfigError(
            "mini", raw.mini, "an empty section", hint="[mini] applies only when model.base = 'mini'", source=source
        )
    teacher = validate_section(TeacherOptions, raw.teacher, "teacher", source)
    training = validate_section(TrainingOptions, raw.training, "training", source)

    methods = _method_entries(raw.methods, source)

    question, analysis_table = _question_section(raw, bopts, methods, source)
    analysis = validate_section(
        AnalysisOptions,
        {**analysis_table, **{k: v for k, v in question.roles(None).items() if k != "exclude_pivot"}},
        "analysis",
        source,
    )
    return HarnessConfig(
        raw=raw,
        benchmark_name=bname,
        benchmark=bopts,
        mini=mini,
        teacher=teacher,
        training=training,
        methods=tuple(methods),
        analysis=analysis,
        executor_name=ename,
        executor=eopts,
        source=source,
        text=text,
        overrides=tuple(overrides),
        question=question,
    )


def _question_section(
    raw: RawConfig, bopts: BaseModel, methods: list[MethodEntry], source: str
) -> tuple[QuestionOptions, dict[str, Any]]:
    """The ``[question]`` table, validated, and the ``[analysis]`` table without role keys.

    The old ``[analysis] ot_method / contrastive_method / baseline`` are moved into the
    question with a one-line :class:`~harness.stats.options.ConfigNote`; a role given in
    both places, or a new role name under ``[analysis]``, is a :class:`ConfigError`.  Every
    role given explicitly must name a configured method (or method group), and each mode
    table must name a mode of the benchmark.
    """
    analysis = dict(raw.analysis)
    for key in ("treatment", "comparator", "exclude_pivot"):
        if key in analysis:
            raise ConfigError(
                f"analysis.{key}",
                analysis[key],
                "a key of [question]",
                hint=f"move it: [question] {key} = ...",
                source=source,
            )
    moved: dict[str, Any] = {
        k: analysis.pop(k) for k in ("ot_method", "contrastive_method", "baseline") if k in analysis
    }
    if moved:
        for k in moved:
            new_key = LEGACY_ROLES.get(k, k)
            if new_key in raw.question:
                raise ConfigError(
                    f"analysis.{k}",
                    moved[k],
                    f"the role given once, as question.{new_key}",
                    hint=f"remove analysis.{k} (question.{new_key} = {raw.question[new_key]!r} is also set)",
                    source=source,
                )
        warnings.warn(
            f"{source or 'config'}: [analysis] {', '.join(moved)} read as [question] "
            f"{', '.join(LEGACY_ROLES.get(k, k) for k in moved)} (the question's roles); rename them to silence this note",
            ConfigNote,
            stacklevel=3,
        )
        moved = legacy_roles(moved, "analysis", note=False)
    question = validate_section(QuestionOptions, {**moved, **raw.question}, "question", source)
    known_modes = tuple(getattr(bopts, "evaluation_modes", None) or ("monolingual", "cross-lingual"))
    for mode in question.modes:
        if mode not in known_modes:
            raise ConfigError(
                f"question.{mode}",
                mode,
                f"a table of role overrides for a mode of the benchmark: {', '.join(known_modes)}",
                hint=f"unknown mode{did_you_mean(mode, known_modes)}; [question.<mode>] takes treatment, comparator, "
                "baseline and exclude_pivot",
                source=source,
            )
    names = [m.name for m in methods]
    groups = list(dict.fromkeys([*(m.group or m.name for m in methods), *names]))
    given: list[tuple[str, dict[str, Any]]] = [
        ("", {**moved, **{k: v for k, v in raw.question.items() if not isinstance(v, Mapping)}})
    ]
    given += [(f"{m}.", dict(raw.question[m])) for m in question.modes if isinstance(raw.question.get(m), Mapping)]
    for prefix, table in given:
        for key in ("treatment", "comparator", "baseline"):
            val = table.get(key)
            if isinstance(val, str) and val not in groups and val != QuestionOptions.model_fields[key].default:
                old = {"treatment": "ot_method", "comparator": "contrastive_method"}.get(key, key)
                path = f"question.{prefix}{key}" if key in raw.question or prefix else f"analysis.{old}"
                raise ConfigError(
                    path,
                    val,
                    f"one of the configured methods: {', '.join(groups)}",
                    hint=f"{did_you_mean(val, groups).strip()} add it under [methods] or change this key".strip(),
                    source=source,
                )
    for which in (None, *question.modes):
        r = question.roles(which)
        if r["treatment"] == r["comparator"]:
            where = f"question.{which}" if which else "question"
            raise ConfigError(
                f"{where}.comparator",
                r["comparator"],
                f"a method different from the treatment ({r['treatment']!r})",
                source=source,
            )
    if question.untrained_candidate and not any(m.plugin == "zero-shot" for m in methods):
        raise ConfigError(
            "question.untrained_candidate",
            True,
            "true only with a zero-shot method configured (its results are the untrained teacher's)",
            hint="add [methods.zero-shot] or set untrained_candidate = false",
            source=source,
        )
    return question, analysis


def make_benchmark(config: HarnessConfig, cache: Any) -> Any:
    """Instantiate the configured benchmark adapter.

    Every adapter is constructed as ``cls(options, cache, base_dir=...)``; ``base_dir`` is
    the config file's directory (relative data paths are resolved against it), or None.
    """
    base_dir = Path(config.source).parent if config.source and not config.source.startswith("<") else None
    return config.benchmark_cls(config.benchmark, cache, base_dir=base_dir)
