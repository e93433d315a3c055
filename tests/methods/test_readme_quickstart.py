"""The README's plugin quickstart is complete: it runs as written and keeps the method contract."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from harness import registry

ROOT = Path(__file__).resolve().parents[2]


def quickstart() -> tuple[str, str]:
    """The README's plugin (Python) and config (TOML) blocks under "Write a method plugin"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Write a method plugin") :]
    section = section[: section.index("\n## ", 3)]
    (python,) = re.findall(r"^```python\n(.*?)^```", section, re.M | re.S)
    (toml,) = re.findall(r"^```toml\n(.*?)^```", section, re.M | re.S)
    return python, toml


@pytest.fixture
def linear_map():
    """The quickstart executed as a module of its own (every import it needs is in the block)."""
    code, _ = quickstart()
    module = types.ModuleType("my_methods")
    sys.modules["my_methods"] = module
    try:
        exec(compile(code, "README.md:my_methods.py", "exec"), module.__dict__)
        yield registry.get_method("linear-map")
    finally:
        sys.modules.pop("my_methods", None)
        registry.METHODS.unregister("linear-map")


def test_quickstart_keeps_the_method_contract(linear_map, tiny_world):
    from test_contract import _check_contract

    assert linear_map.__module__ == "my_methods" and linear_map.version == "0.1.0"
    assert linear_map.description().startswith("Teacher embeddings through a linear map")
    _check_contract(linear_map, tiny_world)


def test_quickstart_trains_and_records_diagnostics(linear_map, tiny_world):
    import torch

    ctx = tiny_world.ctx("linear-map", 0)
    encoder = linear_map({"steps": 30, "batch_size": 16}).fit(ctx)
    assert ctx.diagnostics["distance_to_identity"] > 0  # the map moved away from the identity
    assert ctx.diagnostics["budget"]["steps"] == 30
    bench = tiny_world.benchmark
    low = next(lang for lang in bench.languages if bench.tier(lang) == "low")
    q = encoder.encode_queries(["a query"], low)
    assert q.shape == (1, ctx.teacher.dim) and torch.allclose(q.norm(dim=1), torch.ones(1))
    with pytest.raises(ValueError, match="stpes"):
        linear_map({"stpes": 3})


def test_quickstart_config_names_the_method_in_the_question():
    import tomllib

    _, toml = quickstart()
    data = tomllib.loads(toml)
    assert "linear-map" in data["methods"]
    assert data["question"] == {"treatment": "linear-map", "comparator": "contrastive", "baseline": "zero-shot"}
