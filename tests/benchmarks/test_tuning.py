"""Tuning splits of the file-based benchmarks: the seeded holdout rule, MIRACL train topics,
local dev files; disjoint and complete splits, identities that follow them, errors before any work.

MIRACL-format data is generated (``miracl_tuning_data`` in conftest.py: en and sw with dev and
train topics, yo with dev only) and read through ir_datasets' own classes; the end-to-end
runs through the real ``miracl/<lang>/<split>`` ids are in ``test_miracl_e2e.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import subprocess
import sys

import pytest
import tomllib

from harness.benchmarks._common import DataFormatError
from harness.benchmarks.local import LocalBenchmark, LocalOptions
from harness.benchmarks.miracl import MiraclBenchmark, MiraclOptions
from harness.benchmarks.tuning import holdout_split
from harness.errors import ConfigError, DataUnavailableError

#: ``language -> (dev queries, train queries)`` of the generated data (conftest's ``TUNING_SIZES``,
#: checked equal through its ``tuning_sizes`` fixture: test modules cannot import a conftest).
SIZES = {"en": (12, 6), "sw": (10, 5), "yo": (6, 0)}


@pytest.fixture(autouse=True)
def _sizes_match(tuning_sizes):
    assert tuning_sizes == SIZES


def dev_ids(lang: str) -> set[str]:
    return {f"1{k:02d}" for k in range(SIZES[lang][0])}


def train_ids(lang: str) -> set[str]:
    return {f"2{k:02d}" for k in range(SIZES[lang][1])}


def mbench(fx: dict, **options) -> MiraclBenchmark:
    options.setdefault("languages", ["en", "sw", "yo"])
    return MiraclBenchmark(options, dataset_id=fx["dataset_id"], train_dataset_id=fx["train_dataset_id"])


# --------------------------------------------------------------------------- the holdout rule
@pytest.mark.parametrize("fraction, seed", [(0.5, 0), (0.3, 7), (0.9, 123), (0.29, 2)])
def test_holdout_is_disjoint_complete_and_follows_the_documented_rule(fraction, seed):
    ids = [f"q{i}" for i in range(100)]
    s = holdout_split(ids, fraction, seed)
    assert set(s.dev).isdisjoint(s.test) and sorted(s.dev + s.test) == sorted(ids)
    assert len(s.dev) == math.floor(round(fraction * 100, 9))  # 0.29: 29, not floor(28.999...96)
    # the documented rule, recomputed from the query ids and the seed alone
    ranked = sorted(ids, key=lambda q: (hashlib.sha256(f"{seed}\t{q}".encode()).hexdigest(), q))
    assert set(s.dev) == set(ranked[: len(s.dev)])
    # neither the order nor repeats of the input matter
    assert holdout_split([*reversed(ids), *ids[:7]], fraction, seed) == s


def test_holdout_depends_on_the_seed_and_keeps_both_parts_non_empty():
    ids = [str(i) for i in range(20)]
    assert holdout_split(ids, 0.5, 0).dev != holdout_split(ids, 0.5, 1).dev
    assert (len(holdout_split(["a", "b"], 0.01, 0).dev), len(holdout_split(["a", "b"], 0.99, 0).test)) == (1, 1)
    odd = holdout_split(["a", "b", "c"], 0.5, 0)
    assert (len(odd.dev), len(odd.test)) == (1, 2)  # rounded down: the odd query is reported
    with pytest.raises(ValueError, match="at least 2 judged queries, got 1"):
        holdout_split(["a"], 0.5, 0)
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            holdout_split(ids, bad, 0)


def test_holdout_is_the_same_in_another_process_with_another_hash_seed():
    ids = [f"{i}" for i in range(50)]
    code = (
        "import json; from harness.benchmarks.tuning import holdout_split; "
        f"print(json.dumps(holdout_split({ids!r}, 0.4, 11).dev))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert tuple(json.loads(proc.stdout)) == holdout_split(ids, 0.4, 11).dev


# --------------------------------------------------------------------------- MIRACL
def test_miracl_holdout_splits_each_languages_judged_dev_queries(miracl_tuning):
    b = mbench(miracl_tuning, tuning="holdout")
    b.check_available()
    assert b.splits == ("dev", "test")
    for lang in ("en", "sw", "yo"):
        dev, test = b.topics(lang, "dev"), b.topics(lang, "test")
        assert set(dev.queries).isdisjoint(test.queries)
        assert set(dev.queries) | set(test.queries) == dev_ids(lang)
        assert tuple(sorted(dev.queries)) == holdout_split(dev_ids(lang), 0.5, 0).dev
        assert len(dev.queries) == SIZES[lang][0] // 2
        assert set(dev.qrels) == set(dev.queries) and set(test.qrels) == set(test.queries)
        assert b.topics(lang) is test  # memoised; "test" is the default split
        # the in-memory view agrees, over the whole corpus (one document index for both splits)
        d, t = b.language_data(lang, "dev"), b.language_data(lang)
        assert (dict(d.queries), dict(t.queries)) == (dict(dev.queries), dict(test.queries))
        assert d.corpus is t.corpus and len(t.corpus) == SIZES[lang][0] + 1
    again = mbench(miracl_tuning, tuning="holdout")  # a fresh read gives the same split
    assert again.topics("sw", "dev") == b.topics("sw", "dev")
    other = mbench(miracl_tuning, tuning="holdout", holdout_seed=1, holdout_fraction=0.25)
    assert set(other.topics("en", "dev").queries) != set(b.topics("en", "dev").queries)
    assert len(other.topics("en", "dev").queries) == 3
    t = b.describe()["tuning"]
    assert t["scheme"] == "holdout" and t["holdout"]["seed"] == 0 and t["holdout"]["fraction"] == 0.5
    assert t["queries"] == {"en": {"dev": 6, "test": 6}, "sw": {"dev": 5, "test": 5}, "yo": {"dev": 3, "test": 3}}
    assert "seed 0" in t["statement"] and "sha256" in t["statement"]
    with pytest.raises(ConfigError, match="one of this benchmark's splits: dev, test"):
        b.topics("en", "train")


def test_miracl_without_tuning_has_only_the_test_split(miracl_tuning):
    b = mbench(miracl_tuning)
    assert b.splits == ("test",) and b.split_statement() is None and "tuning" not in b.describe()
    assert set(b.topics("en").queries) == dev_ids("en")
    with pytest.raises(ConfigError, match="splits: test"):
        b.language_data("en", "dev")


def test_miracl_train_tuning_reports_the_whole_dev_split(miracl_tuning):
    b = mbench(miracl_tuning, languages=["en", "sw"], tuning="train")
    b.check_available()
    for lang in ("en", "sw"):
        assert set(b.topics(lang, "dev").queries) == train_ids(lang)
        assert set(b.topics(lang, "test").queries) == dev_ids(lang)
        assert b.language_data(lang, "dev").corpus is b.language_data(lang).corpus
    assert b.tuning_dataset_id("sw") == miracl_tuning["dataset_id"].format(lang="sw", split="train")
    words = b.split_statement()
    assert words is not None and "train topics" in words and "also trained the teacher" in words


def test_miracl_languages_without_train_fall_back_to_a_holdout_only_when_asked(miracl_tuning):
    with pytest.raises(ConfigError, match="yo has no MIRACL train split") as ei:
        MiraclOptions.parse({"languages": ["en", "yo"], "tuning": "train"})
    assert "tuning_fallback = 'holdout'" in str(ei.value)
    b = mbench(miracl_tuning, languages=["en", "yo"], tuning="train", tuning_fallback="holdout", holdout_seed=4)
    b.check_available()
    assert (b.tuning_scheme("en"), b.tuning_scheme("yo")) == ("train", "holdout")
    assert set(b.topics("en", "dev").queries) == train_ids("en")
    assert tuple(sorted(b.topics("yo", "dev").queries)) == holdout_split(dev_ids("yo"), 0.5, 4).dev
    assert tuple(sorted(b.topics("yo", "test").queries)) == holdout_split(dev_ids("yo"), 0.5, 4).test
    t = b.describe()["tuning"]
    assert t["schemes"] == {"en": "train", "yo": "holdout"} and "yo (no train split)" in t["statement"]


def test_normalised_miracl_configs_state_the_tuning_split_and_load_again():
    from harness.config import config_from_dict

    for bench in (
        {"tuning": "holdout"},
        {"tuning": "train", "languages": ["en", "yo"], "tuning_fallback": "holdout", "holdout_seed": 2},
        {},
    ):
        config = config_from_dict(
            {"benchmark": {"name": "miracl", **bench}, "model": {"base": "x"}, "methods": {"bm25": {}}}
        )
        again = config_from_dict(tomllib.loads(config.to_toml()))
        assert again.sha256() == config.sha256() and again.benchmark == config.benchmark
        if bench:
            assert {"holdout_fraction", "holdout_seed"} <= set(tomllib.loads(config.to_toml())["benchmark"])


@pytest.mark.parametrize(
    "options, path, fragment",
    [
        ({"tuning": "dev-holdout"}, "benchmark.tuning", "did you mean 'holdout'"),
        ({"tuning": "holdout", "holdout_fraction": 1.0}, "benchmark.holdout_fraction", "between 0 and 1"),
        ({"tuning": "holdout", "holdout_fraction": 0}, "benchmark.holdout_fraction", "between 0 and 1"),
        ({"tuning": "holdout", "holdout_seed": -1}, "benchmark.holdout_seed", "non-negative"),
        ({"tuning": "holdout", "holdout_seed": "7"}, "benchmark.holdout_seed", "integer"),
        ({"holdout_fraction": 0.5}, "benchmark.holdout_fraction", "only with a holdout"),
        ({"tuning": "train", "languages": ["en"], "holdout_seed": 3}, "benchmark.holdout_seed", "only with a holdout"),
        ({"tuning_fallback": "holdout"}, "benchmark.tuning_fallback", "only with tuning = 'train'"),
        ({"tuning": "train", "tuning_fallback": "dev"}, "benchmark.tuning_fallback", "'holdout'"),
        ({"tuning": "train", "split": "train", "languages": ["en"]}, "benchmark.tuning", "cannot also be the tuning"),
        ({"tuning": "train", "languages": ["en", "de", "yo"]}, "benchmark.tuning", "de, yo have no MIRACL train"),
    ],
)
def test_bad_miracl_tuning_options_are_config_errors(options, path, fragment):
    with pytest.raises(ConfigError) as ei:
        MiraclOptions.parse(options, source="run.toml")
    assert ei.value.path == path, str(ei.value)
    assert fragment in str(ei.value) and "run.toml" in str(ei.value)


def test_a_holdout_needs_two_judged_queries_per_language_before_any_work(miracl_fixture):
    b = MiraclBenchmark(
        {"languages": ["sw", "yo"], "tuning": "holdout"},
        dataset_id=miracl_fixture["dataset_id"],
        train_dataset_id=miracl_fixture["train_dataset_id"],
    )
    with pytest.raises(ConfigError, match="language 'yo' has 1 judged query; drop it") as ei:
        b.check_available()  # the small fixture's yo has one judged dev query
    assert ei.value.path == "benchmark.tuning"


def test_tuning_topics_that_are_also_reported_are_refused(miracl_tuning):
    home = miracl_tuning["home"] / "miracl" / "v1.0" / "en" / "train"
    for name in ("topics.tsv", "qrels.tsv"):  # train query 200 renamed to dev query 100
        p = next(home.rglob(name))
        p.write_text(p.read_text().replace("200\t", "100\t"))
    b = mbench(miracl_tuning, languages=["en"], tuning="train")
    with pytest.raises(DataFormatError, match=r"1 query ids are also reported queries, e.g. \['100'\]"):
        b.check_available()


def test_missing_train_topics_are_named_before_any_work(miracl_tuning):
    next((miracl_tuning["home"] / "miracl" / "v1.0" / "sw" / "train").rglob("qrels.tsv")).unlink()
    b = mbench(miracl_tuning, languages=["en", "sw"], tuning="train")
    with pytest.raises(DataUnavailableError, match="sw/train"):
        b.check_available()


def test_fingerprints_and_evaluation_identity_distinguish_the_splits(miracl_tuning):
    variants = {
        "none": {},
        "holdout": {"tuning": "holdout"},
        "holdout-seed": {"tuning": "holdout", "holdout_seed": 1},
        "holdout-fraction": {"tuning": "holdout", "holdout_fraction": 0.3},
        "train": {"tuning": "train", "tuning_fallback": "holdout"},
    }
    keys = {}
    for name, opts in variants.items():
        b = mbench(miracl_tuning, **opts)
        keys[name] = (b.fingerprint(), b.language_fingerprints()["sw"], json.dumps(b.evaluation_identity()))
    for i in range(3):
        assert len({k[i] for k in keys.values()}) == len(variants), i
    # without tuning nothing changes: the tuning keys are not part of the identity
    assert mbench(miracl_tuning, tuning="none").fingerprint() == keys["none"][0]
    assert mbench(miracl_tuning).evaluation_identity() == {}
    # a train-tuned language follows its train files; the holdout language (yo) does not
    b = mbench(miracl_tuning, tuning="train", tuning_fallback="holdout")
    before = b.language_fingerprints()
    p = next((miracl_tuning["home"] / "miracl" / "v1.0" / "sw" / "train").rglob("qrels.tsv"))
    p.write_text(p.read_text() + "204\tQ0\t20005#0\t0\n")
    after = mbench(miracl_tuning, tuning="train", tuning_fallback="holdout").language_fingerprints()
    assert after["sw"] != before["sw"] and after["yo"] == before["yo"] and after["en"] == before["en"]
    # the corpus (and so the document index) is shared by every split and tuning choice
    assert {mbench(miracl_tuning, **o).corpus_fingerprint("sw") for o in variants.values()} == {
        mbench(miracl_tuning).corpus_fingerprint("sw")
    }


# --------------------------------------------------------------------------- local
def _with_dev_files(local_dir, options) -> dict:
    """Dev topics over the local fixture's corpora (ids disjoint from the reported queries)."""
    (local_dir / "sw" / "dev-queries.tsv").write_text("sw-t1\tmaji muhimu\nsw-t2\tlugha ya Afrika\nsw-t3\tbila\n")
    (local_dir / "sw" / "dev-qrels.txt").write_text("sw-t1 0 sw-d1 1\nsw-t2 0 sw-d4 1\n")
    (local_dir / "en" / "dev-queries.tsv").write_text("en-t1\twater for life\n")
    (local_dir / "en" / "dev-qrels.txt").write_text("en-t1 0 en-d1 1\nen-t1 0 en-d2 0\n")
    opts = copy.deepcopy(options)
    for lang in ("sw", "en"):
        opts["languages"][lang].update(dev_queries=f"{lang}/dev-queries.tsv", dev_qrels=f"{lang}/dev-qrels.txt")
    return opts


def test_local_dev_files_give_the_dev_split(local_dir, local_options):
    opts = _with_dev_files(local_dir, local_options)
    assert LocalOptions.parse(opts).tuning == "dev-files"  # given files, tuned on them (and written out)
    b = LocalBenchmark(opts, base_dir=local_dir)
    b.check_available()
    assert b.splits == ("dev", "test")
    sw_dev, sw = b.language_data("sw", "dev"), b.language_data("sw")
    assert dict(sw_dev.queries) == {"sw-t1": "maji muhimu", "sw-t2": "lugha ya Afrika"}  # sw-t3: unjudged, dropped
    assert dict(sw_dev.qrels) == {"sw-t1": {"sw-d1": 1}, "sw-t2": {"sw-d4": 1}}
    assert set(sw.queries) == {"sw-q1", "sw-q2", "sw-q3"} and sw_dev.corpus is sw.corpus
    t = b.describe()
    assert t["tuning"]["queries"] == {"sw": {"dev": 2, "test": 3}, "en": {"dev": 1, "test": 3}}
    assert t["stats"]["sw"]["dev_dropped_unjudged_queries"] == 1
    assert t["tuning"]["dev_files"]["en"]["dev_qrels"] == str(local_dir / "en" / "dev-qrels.txt")
    # the identity follows the dev files' content
    fp, lfp = b.fingerprint(), b.language_fingerprints()
    assert fp != LocalBenchmark(local_options, base_dir=local_dir).fingerprint()
    with (local_dir / "en" / "dev-qrels.txt").open("a") as f:
        f.write("en-t1 0 en-d3 0\n")
    b2 = LocalBenchmark(opts, base_dir=local_dir)
    assert b2.fingerprint() != fp
    assert b2.language_fingerprints()["en"] != lfp["en"] and b2.language_fingerprints()["sw"] == lfp["sw"]


def test_local_holdout_splits_the_judged_queries(local_dir, local_options):
    b = LocalBenchmark({**local_options, "tuning": "holdout", "holdout_seed": 5}, base_dir=local_dir)
    b.check_available()
    for lang in ("sw", "en"):
        whole = {f"{lang}-q{i}" for i in (1, 2, 3)}
        dev, test = b.language_data(lang, "dev"), b.language_data(lang, "test")
        assert set(dev.queries).isdisjoint(test.queries) and set(dev.queries) | set(test.queries) == whole
        assert tuple(sorted(dev.queries)) == holdout_split(whole, 0.5, 5).dev
        assert len(dev.queries) == 1 and set(test.qrels) == set(test.queries)
    assert b.language_fingerprints() != LocalBenchmark(local_options, base_dir=local_dir).language_fingerprints()
    assert b.evaluation_identity()["holdout"]["seed"] == 5


@pytest.mark.parametrize(
    "mutate, path, fragment",
    [
        (lambda o: o["languages"]["sw"].update(dev_queries="q.tsv"), "benchmark.languages.sw.dev_qrels", "both"),
        (
            lambda o: (o.update(tuning="dev-files"), o["languages"]["sw"].update(dev_queries="q", dev_qrels="r")),
            "benchmark.tuning",
            "en has none",
        ),
        (
            lambda o: (o.update(tuning="holdout"), o["languages"]["sw"].update(dev_queries="q", dev_qrels="r")),
            "benchmark.languages.sw.dev_queries",
            "only with tuning = 'dev-files'",
        ),
        (lambda o: o.update(tuning="train"), "benchmark.tuning", "one of 'none', 'holdout', 'dev-files'"),
        (lambda o: o.update(holdout_seed=2), "benchmark.holdout_seed", "only with a holdout"),
    ],
)
def test_bad_local_tuning_options_are_config_errors(local_options, mutate, path, fragment):
    opts = copy.deepcopy(local_options)
    mutate(opts)
    with pytest.raises(ConfigError) as ei:
        LocalOptions.parse(opts)
    assert ei.value.path == path, str(ei.value)
    assert fragment in str(ei.value)


@pytest.mark.parametrize(
    "files, error, fragment",
    [
        ({"sw/dev-qrels.txt": "sw-t1 0 sw-d77 1\n"}, DataFormatError, "not in the corpus"),
        (
            {
                "sw/dev-queries.tsv": "sw-q1\tmto\nsw-t1\tmaji\n",
                "sw/dev-qrels.txt": "sw-q1 0 sw-d2 1\nsw-t1 0 sw-d1 1\n",
            },
            DataFormatError,
            "1 query ids are also reported queries, e.g. ['sw-q1']",
        ),
        ({"sw/dev-qrels.txt": "sw-q1 0 sw-d1 1\nsw-t1 0 sw-d1 1\n"}, DataFormatError, "not in the queries"),
        ({"en/dev-qrels.txt": None}, DataUnavailableError, "benchmark.languages.en.dev_qrels"),
    ],
)
def test_bad_local_dev_files_fail_before_any_work(local_dir, local_options, files, error, fragment):
    opts = _with_dev_files(local_dir, local_options)
    for file, content in files.items():
        if content is None:
            (local_dir / file).unlink()
        else:
            (local_dir / file).write_text(content)
    with pytest.raises(error) as ei:
        LocalBenchmark(opts, base_dir=local_dir).check_available()
    assert fragment in str(ei.value)


LOCAL_RUN = """
name = "local-tuning"
seeds = [0, 1]
device = "cpu"
metrics = ["ndcg@10", "mrr@10"]
top_k = 10
[benchmark]
name = "local"
pivot = "en"
{tuning}
[benchmark.languages.sw]
corpus = "sw/corpus.tsv"
queries = "sw/queries.tsv"
qrels = "sw/qrels.txt"
tier = "low"
{sw_dev}
[benchmark.languages.en]
corpus = "en/corpus.tsv"
queries = "en/queries.tsv"
qrels = "en/qrels.txt"
tier = "high"
{en_dev}
[model]
base = "unused-lexical-only"
[methods.bm25]
sweep = {{ b = [0.0, 0.75] }}
[analysis]
n_permutations = 100
n_bootstrap = 100
"""


@pytest.mark.slow
def test_a_local_run_tunes_on_dev_files_or_a_holdout_and_reports_test_only(local_dir, local_options, tmp_path):
    import pandas as pd

    from harness.cache import Cache
    from harness.config import load_config
    from harness_reports import run_and_report

    _with_dev_files(local_dir, local_options)
    dev = {lang: f'dev_queries = "{lang}/dev-queries.tsv"\ndev_qrels = "{lang}/dev-qrels.txt"' for lang in ("sw", "en")}
    cache = Cache(tmp_path / "cache")
    quiet = {"progress": False, "log": lambda s: None}
    reported = {lang: {f"{lang}-q{i}" for i in (1, 2, 3)} for lang in ("sw", "en")}

    cfg = local_dir / "run.toml"
    cfg.write_text(LOCAL_RUN.format(tuning="", sw_dev=dev["sw"], en_dev=dev["en"]))
    res = run_and_report(load_config(cfg), run_dir=tmp_path / "files", cache=cache, **quiet)
    assert res.status == "complete"
    results = pd.read_parquet(tmp_path / "files" / "results.parquet")
    dev_results = pd.read_parquet(tmp_path / "files" / "dev_results.parquet")
    for lang in ("sw", "en"):
        assert set(results[results.language == lang].query_id) == reported[lang]
    assert set(dev_results[dev_results.language == "sw"].query_id) == {"sw-t1", "sw-t2"}
    assert set(dev_results[dev_results.language == "en"].query_id) == {"en-t1"}
    protocol = json.loads((tmp_path / "files" / "analysis.json").read_text())["protocol"]
    assert protocol["tuned_on"] == "dev" and "dev_queries / dev_qrels" in protocol["dev_split"]
    assert protocol["selections"]["bm25"]["grid_size"] == 2
    manifest = json.loads((tmp_path / "files" / "manifest.json").read_text())
    assert manifest["config"]["benchmark"]["tuning"] == "dev-files"  # stated in the normalised config
    assert manifest["benchmark"]["tuning"]["queries"]["sw"] == {"dev": 2, "test": 3}

    cfg.write_text(LOCAL_RUN.format(tuning='tuning = "holdout"\nholdout_seed = 5', sw_dev="", en_dev=""))
    res = run_and_report(load_config(cfg), run_dir=tmp_path / "holdout", cache=cache, **quiet)
    assert res.status == "complete" and not any(c.get("from_cache") for c in res.cells)
    written = load_config(tmp_path / "holdout" / "config.toml")  # the normalised config states the holdout in full
    assert (written.benchmark.tuning, written.benchmark.holdout_fraction, written.benchmark.holdout_seed) == (
        "holdout",
        0.5,
        5,
    )
    assert written.sha256() == load_config(cfg).sha256()
    results = pd.read_parquet(tmp_path / "holdout" / "results.parquet")
    dev_results = pd.read_parquet(tmp_path / "holdout" / "dev_results.parquet")
    for lang in ("sw", "en"):
        split = holdout_split(reported[lang], 0.5, 5)
        assert set(results[results.language == lang].query_id) == set(split.test)
        assert set(dev_results[dev_results.language == lang].query_id) == set(split.dev)
