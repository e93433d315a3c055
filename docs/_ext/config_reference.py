"""Sphinx extension: the configuration reference, generated from the config models.

Every option of every section a config file may hold is read from the pydantic models that
validate it (:class:`harness.config.RawConfig` and the models of its sections, the
``Config`` of every registered benchmark adapter, method and executor), with its type,
default, allowed range and description.  The description is the ``Field``'s
``description``; where a field has none, the entry of the same name in the model's numpy
``Attributes`` or ``Parameters`` docstring section.  Nothing is copied by hand, so the page
cannot drift from the code.

Used by ``docs/configuration.md`` through the directive::

    ```{config-reference}
    ```

:func:`sections` and :func:`options` are plain functions (the test suite checks them);
:func:`render_markdown` gives the page's markdown.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from dataclasses import dataclass
from typing import Any

#: Top-level keys whose table is validated by another model (or by a registered plugin's
#: ``Config``), and how the reference finds it.  A new dict-typed top-level section must be
#: added here (``tests/test_docs.py`` fails otherwise).
PLUGIN_SECTIONS = {"benchmark": ("benchmark", "name"), "executor": ("executor", "kind"), "methods": ("method", None)}


def _fixed_sections() -> dict[str, type]:
    from harness.models.mini import MiniOptions
    from harness.stats.options import AnalysisOptions, QuestionOptions
    from harness.training import TeacherOptions, TrainingOptions

    return {
        "mini": MiniOptions,
        "teacher": TeacherOptions,
        "training": TrainingOptions,
        "analysis": AnalysisOptions,
        "question": QuestionOptions,
    }


@dataclass(frozen=True)
class Option:
    """One option of a config file: ``key`` is its path (``analysis.alpha``)."""

    key: str
    type: str
    default: str
    allowed: str
    description: str


@dataclass(frozen=True)
class Section:
    """A table of a config file, and the model that validates it."""

    title: str  # e.g. "[methods.ot-distill]"
    prefix: str  # key prefix of its options, e.g. "methods.ot-distill."
    model: type
    intro: str  # the model's (or plugin's) first docstring paragraph
    note: str = ""  # how the table is selected (e.g. `name = "miracl"`)


def _own_doc(obj: Any) -> str:
    """``obj``'s own docstring, cleaned (not one inherited from pydantic's ``BaseModel``)."""
    return inspect.cleandoc(obj.__dict__.get("__doc__") or "")


def _first_paragraph(obj: Any) -> str:
    doc = _own_doc(obj)
    return " ".join(doc.split("\n\n", 1)[0].split())


def docstring_fields(model: type) -> dict[str, str]:
    """``{field: description}`` from a numpy ``Attributes``/``Parameters`` section of ``model``'s docstring."""
    doc = _own_doc(model)
    out: dict[str, str] = {}
    for m in re.finditer(r"^(Attributes|Parameters)\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", doc, re.M | re.S):
        names: list[str] = []
        body: list[str] = []
        for line in m.group(2).splitlines() + [""]:
            head = re.match(r"^([A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)\s*(?::.*)?$", line)
            if head and not line.startswith(" "):
                for n in names:
                    out.setdefault(n, " ".join(" ".join(body).split()))
                names, body = [s.strip() for s in head.group(1).split(",")], []
            elif line.startswith(" "):
                body.append(line.strip())
        for n in names:
            out.setdefault(n, " ".join(" ".join(body).split()))
    return {k: v for k, v in out.items() if v}


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(ann)[0])
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(ann))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is not None:
        args = typing.get_args(ann)
        name = getattr(origin, "__name__", str(origin))
        if args:
            return f"{name}[{', '.join('...' if a is Ellipsis else _type_name(a) for a in args)}]"
        return name
    if ann is type(None):
        return "None"
    return getattr(ann, "__name__", str(ann)).replace("typing.", "")


def _default(field: Any) -> str:
    from pydantic_core import PydanticUndefined

    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if value is None:
        return "(none)"
    try:
        return json.dumps(value)  # TOML spells these values the same way (true, 0.02, "mini", [0, 1])
    except (TypeError, ValueError):
        return repr(value)


_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "length >=", "max_length": "length <="}


def _allowed(field: Any) -> str:
    parts = []
    for meta in field.metadata:
        for attr, sym in _BOUNDS.items():
            v = getattr(meta, attr, None)
            if v is not None:
                parts.append(f"{sym} {v:g}" if isinstance(v, float) else f"{sym} {v}")
    return ", ".join(parts)


def sections() -> list[Section]:
    """Every table of a config file, in the order of :class:`harness.config.RawConfig`."""
    from pydantic import BaseModel

    from harness.config import RawConfig
    from harness.registry import KINDS

    fixed = _fixed_sections()
    out = [Section("top level", "", RawConfig, _first_paragraph(RawConfig))]
    for name, field in RawConfig.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.append(Section(f"[{name}]", f"{name}.", ann, _first_paragraph(ann) or (field.description or "")))
        elif name in fixed:
            out.append(Section(f"[{name}]", f"{name}.", fixed[name], _first_paragraph(fixed[name])))
        elif name in PLUGIN_SECTIONS:
            kind, key = PLUGIN_SECTIONS[name]
            reg = KINDS[kind]
            for plugin in reg.names():
                cls = reg.get(plugin)
                if key is None:
                    title, note = f"[{name}.{plugin}]", f'plugin `{plugin}`; any table name with `uses = "{plugin}"`'
                else:
                    title, note = f'[{name}] {key} = "{plugin}"', f"adapter `{plugin}`"
                prefix = f"{name}.{plugin}." if key is None else f"{name}."
                out.append(Section(title, prefix, cls.Config, _first_paragraph(cls), note))
    return out


def _is_table(name: str) -> bool:
    return name in _fixed_sections() or name in PLUGIN_SECTIONS


def options(section: Section) -> list[Option]:
    """The options of one section (nested models flattened to dotted keys)."""
    from pydantic import BaseModel

    def walk(model: type, prefix: str, top: bool) -> list[Option]:
        docs = docstring_fields(model)
        rows = []
        for name, field in model.model_fields.items():
            ann = field.annotation
            if top and (_is_table(name) or (isinstance(ann, type) and issubclass(ann, BaseModel))):
                continue  # its own section
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                rows += walk(ann, f"{prefix}{name}.", False)
                continue
            value = typing.get_args(ann)[-1] if typing.get_origin(ann) is dict else None
            if isinstance(value, type) and issubclass(value, BaseModel):  # e.g. languages: {code -> options}
                rows.append(
                    Option(
                        key=prefix + name,
                        type=_type_name(ann),
                        default=_default(field),
                        allowed=_allowed(field),
                        description=" ".join((field.description or docs.get(name, "")).split()),
                    )
                )
                rows += walk(value, f"{prefix}{name}.<name>.", False)
                continue
            rows.append(
                Option(
                    key=prefix + (field.alias or name),
                    type=_type_name(ann),
                    default=_default(field),
                    allowed=_allowed(field),
                    description=" ".join((field.description or docs.get(name, "")).split()),
                )
            )
        return rows

    return walk(section.model, section.prefix, section.prefix == "")


def markdown_text(text: str) -> str:
    """A docstring fragment (reST) as MyST markdown: roles and double backticks become code."""
    text = re.sub(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`", lambda m: f"`{m.group(1).split(' <')[0]}`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _cell(text: str) -> str:
    return markdown_text(text).replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """The reference as MyST markdown: one heading and one table per section."""
    out = []
    for s in sections():
        rows = options(s)
        out += [f"## `{s.title}`" if s.prefix else "## Top level", ""]
        if s.intro:
            out += [markdown_text(s.intro), ""]
        if s.note:
            out += [f"*{s.note}*", ""]
        if not rows:
            out += ["No options.", ""]
            continue
        out += ["| option | type | default | allowed | description |", "|---|---|---|---|---|"]
        for o in rows:
            out.append(
                f"| `{o.key}` | {_cell(f'`{o.type}`')} | {_cell(f'`{o.default}`')} | {_cell(o.allowed)} | "
                f"{_cell(o.description)} |"
            )
        out.append("")
    return "\n".join(out)


def setup(app: Any) -> dict[str, Any]:
    from docutils.parsers.rst import Directive

    class ConfigReference(Directive):
        """Insert :func:`render_markdown` where the directive stands (parsed as MyST markdown)."""

        has_content = False

        def run(self) -> list[Any]:
            from docutils import nodes
            from docutils.statemachine import StringList

            node = nodes.section()
            node.document = self.state.document
            text = render_markdown()
            self.state.nested_parse(StringList(text.splitlines(), source="<config-reference>"), 0, node)
            return list(node.children)

    app.add_directive("config-reference", ConfigReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown())
