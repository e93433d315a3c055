import sys
import textwrap

import pytest
from pydantic import BaseModel, ConfigDict

from harness import registry
from harness.errors import PluginError, UnknownMethodError
from harness.plugin import Method


def _fake_dist(root, dist, module, source, entry_points):
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(
        "[harness.methods]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    )


GOOD = '''
from harness.plugin import Method
from harness.registry import register_method

@register_method("fake-good")
class FakeGood(Method):
    """A fine plugin."""
    version = "0.3"
    citation = "@misc{fake, title={Fake}}"
    def fit(self, ctx):
        return ctx.teacher
'''


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "fake_good_dist", "fake_good_mod", GOOD, {"fake-good": "fake_good_mod:FakeGood"})
    _fake_dist(
        tmp_path,
        "fake_broken_dist",
        "fake_broken_mod",
        "raise ImportError('needs libfoo')\n",
        {"fake-broken": "fake_broken_mod:Nothing"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.discover(force=True)
    yield
    for n in ("fake-good", "fake-broken"):
        registry.unregister_method(n)
    for m in ("fake_good_mod", "fake_broken_mod"):
        sys.modules.pop(m, None)
    monkeypatch.undo()
    registry.discover(force=True)


def test_broken_plugin_does_not_break_listing(fake_plugins):
    infos = {m.name: m for m in registry.list_methods()}
    assert infos["fake-good"].ok and infos["fake-good"].version == "0.3"
    assert infos["fake-good"].distribution.startswith("fake_good_dist")
    assert not infos["fake-broken"].ok and "needs libfoo" in infos["fake-broken"].error
    assert "zero-shot" in infos or any(n.startswith("fake") for n in infos)
    with pytest.raises(PluginError, match="broken.*needs libfoo"):
        registry.get_method("fake-broken")


def test_cli_methods_lists_broken(fake_plugins, capsys):
    from harness.cli import main

    assert main(["methods"]) == 0
    out, err = capsys.readouterr()
    assert "fake-good" in out and "A fine plugin." in out
    assert "BROKEN" in out and "needs libfoo" in out
    assert "failed to load" in err


def test_unknown_method_did_you_mean():
    registry.discover()
    with pytest.raises(UnknownMethodError, match="did you mean 'zero-shot'") as e:
        registry.get_method("zero-shoot")
    assert isinstance(e.value, LookupError)


def _cls(**attrs):
    body = {"__doc__": "Doc line.", "version": "1", "citation": "@misc{x}", "fit": lambda self, ctx: None}
    body.update(attrs)
    return type("P", (Method,), body)


@pytest.mark.parametrize(
    "attrs, match",
    [
        ({"version": ""}, "version"),
        ({"citation": "not bibtex"}, "citation"),
        ({"__doc__": None}, "docstring"),
        ({"kind": "other"}, "kind"),
        ({"control": True}, "control"),
        ({"Config": dict}, "Config"),
        ({"Config": type("C", (BaseModel,), {"__annotations__": {"a": int}, "a": 1})}, "extra='forbid'"),
    ],
)
def test_validation_at_registration(attrs, match):
    with pytest.raises(PluginError, match=match):
        registry.register_method("bad-plugin")(_cls(**attrs))
    assert "bad-plugin" not in registry.METHODS._classes


def test_bad_name_and_duplicates():
    with pytest.raises(PluginError, match="name"):
        registry.register_method("Bad Name")(_cls())

    class Cfg(BaseModel):
        model_config = ConfigDict(extra="forbid")

    first = _cls(Config=Cfg)
    registry.register_method("dup-check")(first)
    try:
        other = type("Other", (Method,), {"__doc__": "x", "version": "1", "citation": "@m", "fit": lambda s, c: None})
        with pytest.raises(PluginError, match="already registered"):
            registry.register_method("dup-check")(other)
    finally:
        registry.unregister_method("dup-check")


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    k: int = 3


class _MoreOpts(_Opts):
    j: int = 1


def test_method_generic_in_its_config_sets_config_and_types_it():
    class Generic(Method[_Opts]):
        """A generic method."""

        def fit(self, ctx):
            return ctx.teacher

    assert Generic.Config is _Opts  # the type argument is the Config
    m = Generic({"k": 5})
    assert isinstance(m.config, _Opts) and m.config.k == 5

    class Narrower(Method[_Opts]):  # an explicit Config may narrow the type argument
        """A method whose Config subclasses its type argument."""

        Config = _MoreOpts

        def fit(self, ctx):
            return ctx.teacher

    assert Narrower().config.j == 1

    with pytest.raises(
        TypeError, match=r"Config = 'EmptyConfig' is not the model it is generic in \(Method\[_Opts\]\)"
    ):
        from harness.plugin import EmptyConfig

        class Mismatch(Method[_Opts]):
            """Config and type argument disagree."""

            Config = EmptyConfig

            def fit(self, ctx):
                return ctx.teacher
