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
    [analysis]                      # statistics options
    [output]
    dir = "harness-runs"
"""

from __future__ import annotations

import importlib
import importlib.resources
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.benchmarks.base import hash_json
from harness.errors import ConfigError, UnknownMethodError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: benchmark name -> (options class, benchmark class), imported lazily.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "synthetic": ("harness.benchmarks.synthetic:SyntheticOptions", "harness.benchmarks.synthetic:SyntheticBenchmark"),
    "miracl": ("harness.benchmarks.miracl:MiraclOptions", "harness.benchmarks.miracl:MiraclBenchmark"),
    "local": ("harness.benchmarks.local:LocalOptions", "harness.benchmarks.local:LocalBenchmark"),
}


def import_object(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Section):
    """The base encoder."""

    base: str = Field("mini", description="'mini' (embedded, synthetic benchmark) or a from_pretrained path / hub name")
    pooling: Literal["mean", "cls"] = "mean"
    normalize: bool = True
    max_length: int = Field(64, ge=8, le=8192, description="tokens per text, special tokens included")


class TrainingOptions(_Section):
    """Shared training and encoding settings handed to every method (``FitContext.training``)."""

    grad_clip: float = Field(1.0, gt=0, description="max global gradient norm")
    encode_batch_size: int = Field(256, ge=1, le=65536, description="texts per encoding batch")
    num_threads: int = Field(0, ge=0, le=512, description="torch CPU threads; 0 = all cores")


class OutputSection(_Section):
    dir: str = Field("harness-runs", description="parent directory of run directories")


class ExecutorSection(_Section):
    kind: Literal["local", "ray"] = "local"
    address: str | None = Field(None, description="Ray cluster address; None starts a local instance")
    num_cpus_per_cell: float = Field(1.0, gt=0)
    num_gpus_per_cell: float = Field(0.0, ge=0)
    max_retries: int = Field(2, ge=0, le=10)


class IndexSection(_Section):
    """The document-index stage (:mod:`harness.index`): storage type and shard size.

    ``dtype = "float16"`` halves the disk and I/O of an index (MIRACL-en with mBERT:
    32.9M x 768 x 2 B = 50 GB) and moves cosine scores by ~1e-4; ``"float32"`` stores
    exactly what the encoder returned.  Search always computes in float32.
    """

    dtype: Literal["float16", "float32"] = "float16"
    shard_size: int = Field(65536, ge=1, le=1 << 24)


class RawConfig(_Section):
    """Top-level shape; nested sections are validated by their own models."""

    name: str = Field("run", min_length=1, max_length=100)
    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    metrics: list[str] = Field(default_factory=lambda: ["ndcg@10", "recall@100", "mrr@10"], min_length=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    top_k: int = Field(100, ge=1, le=10000)
    index: IndexSection = IndexSection()
    benchmark: dict[str, Any] = Field(default_factory=lambda: {"name": "synthetic"})
    model: ModelSection = ModelSection()
    mini: dict[str, Any] = Field(default_factory=dict)
    teacher: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = Field(min_length=1)
    analysis: dict[str, Any] = Field(default_factory=dict)
    executor: ExecutorSection = ExecutorSection()
    output: OutputSection = OutputSection()

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if any(s < 0 for s in v):
            raise ValueError("seeds must be non-negative integers")
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

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        bad = set(v) - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        if bad or v.startswith("."):
            raise ValueError("name may use letters, digits, '-', '_' and '.' (it names the run directory)")
        return v


@dataclass(frozen=True)
class MethodEntry:
    name: str
    options: BaseModel
    cls: type = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @property
    def version(self) -> str:
        return self.cls.version


@dataclass(frozen=True)
class HarnessConfig:
    """A validated, normalised configuration."""

    raw: RawConfig
    benchmark_name: str
    benchmark: BaseModel
    mini: BaseModel | None
    teacher: BaseModel
    training: BaseModel
    methods: tuple[MethodEntry, ...]
    analysis: BaseModel
    source: str = ""
    text: str = ""

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
    def model(self) -> ModelSection:
        return self.raw.model

    def normalized(self) -> dict[str, Any]:
        """The config with every default filled in, as plain JSON data."""
        d = self.raw.model_dump(mode="json")
        d["benchmark"] = {"name": self.benchmark_name, **self.benchmark.model_dump(mode="json")}
        d["mini"] = self.mini.model_dump(mode="json") if self.mini is not None else {}
        d["teacher"] = self.teacher.model_dump(mode="json")
        d["training"] = self.training.model_dump(mode="json")
        d["methods"] = {m.name: m.options.model_dump(mode="json") for m in self.methods}
        d["analysis"] = self.analysis.model_dump(mode="json")
        return d

    def sha256(self) -> str:
        """sha256 of the normalised config (the ``output`` section excluded: it does not change results)."""
        d = self.normalized()
        d.pop("output", None)
        return hash_json(d)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_drop_none(self.normalized()))

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


# --------------------------------------------------------------------------- errors
def _allowed_for(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names allowed at ``loc`` (for did-you-mean on unknown keys)."""
    cur: Any = model
    for part in loc[:-1]:
        if isinstance(cur, type) and issubclass(cur, BaseModel) and part in cur.model_fields:
            ann = cur.model_fields[part].annotation
            cur = ann
        else:
            return []
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return list(cur.model_fields)
    return []


def _describe_field(model: type[BaseModel], loc: tuple) -> str:
    cur: Any = model
    info = None
    for part in loc:
        if isinstance(cur, type) and issubclass(cur, BaseModel) and part in cur.model_fields:
            info = cur.model_fields[part]
            cur = info.annotation
        else:
            return ""
    if info is None:
        return ""
    bits = []
    ann = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
    bits.append(str(ann))
    for m in info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bits.append(f"{sym} {getattr(m, attr)}")
    if info.description:
        bits.append(f"({info.description})")
    return " ".join(bits)


def validation_to_config_error(e: ValidationError, model: type[BaseModel], prefix: str, data: Any, source: str) -> ConfigError:
    """Turn the first pydantic error into a ConfigError with a dotted key path."""
    err = e.errors()[0]
    loc = tuple(str(x) for x in err["loc"])
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError):  # raised by a validator inside the section: keep its message
        ipath = inner.path
        if prefix and not ipath.startswith(prefix + "."):
            # validators name their own section (e.g. "model.heads"): re-anchor under this one
            ipath = f"{prefix}.{ipath.split('.', 1)[1]}" if "." in ipath else ".".join((prefix, *loc[:-1], ipath))
        return ConfigError(ipath, inner.value, inner.allowed, inner.hint, source)
    path = ".".join(x for x in (prefix, *loc) if x)
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        allowed = _allowed_for(model, loc)
        return ConfigError(
            path, value, f"known keys: {', '.join(allowed) or '(none)'}",
            hint=f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], allowed)}; remove or rename it", source=source,
        )
    if err["type"] == "missing":
        return ConfigError(path, None, _describe_field(model, loc) or "a value", hint="this key is required", source=source)
    allowed = _describe_field(model, loc) or "see the documentation of this section"
    msg = err.get("msg", "")
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        allowed = f"one of {ctx['expected']}"
    return ConfigError(path, value, allowed, hint=msg, source=source)


def validate_section(model: type[BaseModel], data: Mapping[str, Any], prefix: str, source: str = "") -> BaseModel:
    if not isinstance(data, Mapping):
        raise ConfigError(prefix, data, "a table of options", source=source)
    try:
        return model(**dict(data))
    except ValidationError as e:
        raise validation_to_config_error(e, model, prefix, data, source) from None
    except ConfigError as e:
        if source and not e.source:
            raise ConfigError(e.path, e.value, e.allowed, e.hint, source) from e
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(prefix, dict(data), "valid options for this section", hint=str(e), source=source) from e


# --------------------------------------------------------------------------- loading
def default_config_text(name: str = "default") -> str:
    """Text of a config shipped inside the package (``harness/configs/<name>.toml``)."""
    res = importlib.resources.files("harness") / "configs" / f"{name}.toml"
    if not res.is_file():
        shipped = sorted(p.name[:-5] for p in (importlib.resources.files("harness") / "configs").iterdir() if p.name.endswith(".toml"))
        raise ConfigError("config", name, f"a TOML file path, or a shipped config: {', '.join(shipped)}"
                          f"{did_you_mean(name, shipped)}")
    return res.read_text()


def load_config(path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None) -> HarnessConfig:
    """Load and validate a TOML config; ``None`` loads the embedded default.

    ``path`` may also name a shipped config (``"default"``, ``"smoke"``).
    """
    if path is None:
        text, source = default_config_text("default"), "<embedded default.toml>"
    else:
        p = Path(path)
        if p.is_file():
            text, source = p.read_text(), str(p)
        elif not p.suffix and "/" not in str(path):
            text, source = default_config_text(str(path)), f"<embedded {path}.toml>"
        else:
            raise ConfigError("config", str(path), "an existing TOML file", hint="check the path", source=str(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("config", source, "valid TOML", hint=str(e), source=source) from e
    if overrides:
        data = _merge(data, overrides)
    return config_from_dict(data, source=source, text=text)


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def config_from_dict(data: Mapping[str, Any], source: str = "", text: str = "") -> HarnessConfig:
    from harness.models.mini import MiniOptions
    from harness.registry import available_methods, get_method
    from harness.stats.options import AnalysisOptions
    from harness.training import TeacherOptions

    raw = validate_section(RawConfig, data, "", source)
    assert isinstance(raw, RawConfig)

    bench = dict(raw.benchmark)
    bname = bench.pop("name", "synthetic")
    if bname not in BENCHMARKS:
        raise ConfigError("benchmark.name", bname, f"one of {', '.join(BENCHMARKS)}",
                          hint=f"unknown benchmark{did_you_mean(bname, BENCHMARKS)}", source=source)
    opts_cls = import_object(BENCHMARKS[bname][0])
    bopts = validate_section(opts_cls, bench, "benchmark", source)

    if raw.model.base == "mini" and bname != "synthetic":
        raise ConfigError("model.base", "mini", "a from_pretrained path or hub name (e.g. bert-base-multilingual-cased)",
                          hint="the embedded 'mini' encoder is pre-trained on the synthetic benchmark's corpus only",
                          source=source)
    mini = validate_section(MiniOptions, raw.mini, "mini", source) if raw.model.base == "mini" else None
    if raw.model.base != "mini" and raw.mini:
        raise ConfigError("mini", raw.mini, "an empty section", hint="[mini] applies only when model.base = 'mini'", source=source)
    teacher = validate_section(TeacherOptions, raw.teacher, "teacher", source)
    training = validate_section(TrainingOptions, raw.training, "training", source)

    methods = []
    known = available_methods()
    for mname, mopts in raw.methods.items():
        if mname not in known:
            raise ConfigError(f"methods.{mname}", mname, f"a registered method: {', '.join(known)}",
                              hint=f"unknown method{did_you_mean(mname, known)}; `harness methods` lists them",
                              source=source)
        cls = get_method(mname)
        opts = validate_section(cls.Config, mopts or {}, f"methods.{mname}", source)
        methods.append(MethodEntry(name=mname, options=opts, cls=cls))

    analysis = validate_section(AnalysisOptions, raw.analysis, "analysis", source)
    for key in ("ot_method", "contrastive_method", "baseline"):
        val = getattr(analysis, key, None)
        default = AnalysisOptions.model_fields[key].default
        if val is not None and val not in raw.methods and key in raw.analysis and val != default:
            raise ConfigError(f"analysis.{key}", val, f"one of the configured methods: {', '.join(raw.methods)}",
                              hint=f"{did_you_mean(val, raw.methods).strip()} add it under [methods] or change this key".strip(),
                              source=source)
    return HarnessConfig(
        raw=raw, benchmark_name=bname, benchmark=bopts, mini=mini, teacher=teacher, training=training,
        methods=tuple(methods), analysis=analysis, source=source, text=text,
    )


def make_benchmark(config: HarnessConfig, cache) -> Any:
    """Instantiate the configured benchmark adapter."""
    cls = import_object(BENCHMARKS[config.benchmark_name][1])
    if config.benchmark_name == "local":
        base_dir = Path(config.source).parent if config.source and not config.source.startswith("<") else None
        return cls(config.benchmark, cache, base_dir=base_dir)
    return cls(config.benchmark, cache)
