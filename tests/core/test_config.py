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
