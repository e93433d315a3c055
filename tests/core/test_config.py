import pytest

from harness.config import load_config
from harness.errors import ConfigError

BASE = """
name = "t"
seeds = [0, 1]
[benchmark]
name = "synthetic"
[methods.zero-shot]
[methods.bm25]
"""


def _load(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return load_config(p)


def test_default_config_loads_and_hash_is_stable():
    a, b = load_config(), load_config(None)
    assert a.sha256() == b.sha256() and len(a.sha256()) == 64
    names = [m.name for m in a.methods]
    assert names == ["zero-shot", "bm25", "ot-distill", "contrastive", "translate-test", "translate-train"]
    assert a.seeds == [0] and a.worlds == ["13", "14", "15"] and a.benchmark_name == "synthetic"
    norm = a.normalized()
    assert norm["methods"]["ot-distill"], "normalised method options must hold every default"
    assert norm["teacher"]["lr"] > 0


def test_normalised_toml_round_trips(tmp_path):
    a = load_config()
    b = _load(tmp_path, a.to_toml())
    assert b.sha256() == a.sha256()


def test_shipped_config_by_name():
    assert load_config("default").sha256() == load_config().sha256()
    with pytest.raises(ConfigError, match="did you mean 'default'"):
        load_config("defualt")


def test_output_dir_does_not_change_hash(tmp_path):
    a = _load(tmp_path, BASE)
    b = _load(tmp_path, BASE + '[output]\ndir = "elsewhere"\n')
    assert a.sha256() == b.sha256()
    c = _load(tmp_path, BASE.replace("[0, 1]", "[0, 2]"))
    assert c.sha256() != a.sha256()


@pytest.mark.parametrize(
    "text, path, fragment",
    [
        (BASE.replace("seeds", "sedes"), "sedes", "did you mean 'seeds'"),
        (BASE + "[methods.ot-distil]\n", "methods.ot-distil", "did you mean 'ot-distill'"),
        (BASE.replace("[methods.bm25]", "[methods.bm25]\nk3 = 1.2"), "methods.bm25.k3", "unknown key"),
        (BASE.replace("seeds = [0, 1]", "seeds = []"), "seeds", ""),
        (BASE.replace("seeds = [0, 1]", "seeds = [0, 0]"), "seeds", "distinct"),
        (BASE.replace("seeds = [0, 1]", "seeds = [-1]"), "seeds", "non-negative"),
        ("top_k = 0\n" + BASE, "top_k", ">= 1"),
        ('metrics = ["ndgc@10"]\n' + BASE, "metrics", "did you mean 'ndcg'"),
        ('device = "tpu"\n' + BASE, "device", "auto"),
        (BASE.replace('name = "synthetic"', 'name = "miracle"'), "benchmark.name", "did you mean 'miracl'"),
        (BASE.replace('name = "synthetic"', 'name = "synthetic"\nlanguagez = 1'), "benchmark.languagez", "unknown key"),
        (BASE + '[analysis]\nbaseline = "zero-shoot"\n', "analysis.baseline", "did you mean 'zero-shot'"),
        (BASE + '[model]\npooling = "max"\n', "model.pooling", "mean"),
        (BASE + "[teacher]\nlr = -1\n", "teacher.lr", ""),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, path, fragment):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    assert e.value.path == path, str(e.value)
    assert fragment in str(e.value)
    assert str(tmp_path / "c.toml") in str(e.value)
    assert isinstance(e.value, ValueError)


def test_invalid_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="valid TOML"):
        _load(tmp_path, "name = \n")


def test_missing_file():
    with pytest.raises(ConfigError, match="existing TOML file"):
        load_config("/no/such/file.toml")


def test_mini_requires_synthetic(tmp_path):
    text = BASE.replace('name = "synthetic"', 'name = "miracl"')
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    assert e.value.path == "model.base"


def test_errors_survive_pickling():
    import pickle

    from harness.errors import NonFiniteLossError

    e = ConfigError("a.b", 3, "an integer >= 4", hint="raise it", source="x.toml")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is ConfigError and str(back) == str(e) and back.path == "a.b"
    n = pickle.loads(pickle.dumps(NonFiniteLossError("m", 1, 2, float("nan"))))
    assert n.step == 2 and "step 2" in str(n)


# --------------------------------------------------------------------------- --set and the command line
def test_set_overrides_parse_toml_values_and_merge_like_the_file():
    from harness.config import parse_set

    assert parse_set("methods.ot-distill.steps=100") == {"methods": {"ot-distill": {"steps": 100}}}
    assert parse_set("seeds=[0,1]") == {"seeds": [0, 1]}
    assert parse_set("analysis.primary_metric=recall@100") == {"analysis": {"primary_metric": "recall@100"}}
    assert parse_set('methods."my.variant".lr=1e-4') == {"methods": {"my.variant": {"lr": 1e-4}}}
    c = load_config("smoke", sets=["seeds=[0,1,2]", "methods.ot-distill.steps=100", "seeds=[5]"])
    assert c.seeds == [5] and c.method("ot-distill").options.steps == 100  # in order: the last one wins
    assert c.method("ot-distill").options.epsilon == load_config("smoke").method("ot-distill").options.epsilon
    assert c.overrides == ("seeds=[0,1,2]", "methods.ot-distill.steps=100", "seeds=[5]")
    # hashed like the file: the same values written in the file give the same sha256
    text = c.to_toml()
    assert "steps = 100" in text
    assert c.sha256() != load_config("smoke").sha256()
    assert c.with_executor("local").overrides == c.overrides


def test_set_overrides_are_validated_like_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"`methods.ot-distill.stepz` = 3.*did you mean 'steps'") as e:
        load_config("smoke", sets=["methods.ot-distill.stepz=3"])
    assert "with --set methods.ot-distill.stepz=3" in str(e.value)
    with pytest.raises(ConfigError, match=r"`seedz`.*did you mean 'seeds'"):
        load_config("smoke", sets=["seedz=[1]"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config("smoke", sets=["seeds"])
    with pytest.raises(ConfigError, match=r"'\[0,1' is not a TOML value"):
        load_config("smoke", sets=["seeds=[0,1"])
    with pytest.raises(ConfigError, match="`top_k`"):
        load_config("smoke", sets=["top_k=0"])


def test_config_show_prints_the_file_or_the_normalised_config(tmp_path, capsys):
    import tomllib

    from harness.cli import main
    from harness.config import default_config_text

    assert main(["config", "show", "smoke"]) == 0
    assert capsys.readouterr().out == default_config_text("smoke")
    assert main(["config", "show", "smoke", "--defaults"]) == 0
    out = capsys.readouterr().out
    full = tomllib.loads(out)
    smoke = load_config("smoke")
    assert f"sha256 {smoke.sha256()}" in out
    assert full["methods"]["ot-distill"]["epsilon"] == smoke.method("ot-distill").options.epsilon  # a default
    assert "epsilon" not in default_config_text("smoke")
    p = tmp_path / "mine.toml"
    p.write_text(BASE)
    assert main(["config", "show", str(p), "--defaults", "--set", "seeds=[7]"]) == 0
    assert tomllib.loads(capsys.readouterr().out)["seeds"] == [7]
    assert main(["config", "show", str(p), "--set", "seeds=[7]"]) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    assert shown["seeds"] == [7] and "analysis" not in shown  # as written plus the override, no defaults
    assert main(["config", "show", "smok"]) == 2
    assert "did you mean 'smoke'" in capsys.readouterr().err


def test_run_help_lists_every_shipped_config_with_its_description(capsys):
    import importlib.resources

    from harness.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    shipped = [
        p.name[:-5] for p in (importlib.resources.files("harness") / "configs").iterdir() if p.name.endswith(".toml")
    ]
    assert len(shipped) >= 4
    from harness.sweep import load_sweep

    for name in shipped:
        sweep = load_sweep(name)  # a sweep config (sensitivity): its base config holds the description
        desc = " ".join((sweep.base if sweep is not None else load_config(name)).raw.description.split())
        assert desc and f"{name} {desc}" in out, name
    assert "--set KEY=VALUE" in out


def test_methods_prints_plain_text(capsys):
    from harness.cli import main, plain_text

    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "bm25s" in out and "``" not in out and not __import__("re").search(r":\w+:`", out)
    assert plain_text(":class:`~harness.plugin.Method` and :func:`f <a.b.f>` and :math:`x^2`") == "Method and f and x^2"
    assert plain_text("``code`` and `Title <http://x>`_") == "code and Title <http://x>"
