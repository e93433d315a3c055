"""Shared training machinery: device resolution, the loop, InfoNCE, batching, the teacher."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from harness.benchmarks.base import BitextPair, TrainPair
from harness.errors import ConfigError, NonFiniteLossError
from harness.training import (
    BitextBatch,
    Schedule,
    TeacherOptions,
    balanced_bitext_batches,
    bucketed_batches,
    info_nce,
    resolve_device,
    shuffled_batches,
    total_steps,
    train,
    train_teacher,
)


# --------------------------------------------------------------------------- devices
def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError) as e:
        resolve_device("tpu")
    assert e.value.path == "device" and "auto" in e.value.allowed
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


# --------------------------------------------------------------------------- info_nce
def test_info_nce_matches_hand_computation():
    q = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    p = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    tau = 0.5
    s = [[0.8 / tau, 0.0 / tau], [(0.48 + 0.48) / tau, 0.8 / tau]]  # q_i . p_j / tau
    expected = -0.5 * (
        (s[0][0] - math.log(math.exp(s[0][0]) + math.exp(s[0][1])))
        + (s[1][1] - math.log(math.exp(s[1][0]) + math.exp(s[1][1])))
    )
    assert float(info_nce(q, p, tau)) == pytest.approx(expected, rel=1e-6)
    # identical, orthogonal pairs at temperature 1: log(1 + e^-1) each
    assert float(info_nce(torch.eye(2), torch.eye(2), 1.0)) == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_info_nce_rejects_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.eye(2), torch.eye(2), 0.0)
    with pytest.raises(ValueError, match="shape|B, H"):
        info_nce(torch.eye(2), torch.eye(3), 0.1)


# --------------------------------------------------------------------------- loop
def _regression(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = torch.nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()

    def loss_fn(idx):
        return ((model(x[idx]).squeeze(-1) - y[idx]) ** 2).mean()

    return model, loss_fn


def test_train_reduces_loss_and_reports_stats():
    model, loss_fn = _regression()
    stats = train(
        model,
        shuffled_batches(64, 16, np.random.default_rng(0)),
        loss_fn,
        Schedule(steps=200, lr=0.05, warmup=0.05),
        method="toy",
        seed=3,
    )
    assert stats.steps == 200 and stats.method == "toy" and stats.seed == 3 and stats.device == "cpu"
    assert stats.final_loss < 0.1 * stats.first_loss
    assert len(stats.loss_curve) <= 50 and stats.curve_every == 4
    assert stats.seconds > 0
    assert model.training  # mode restored


def test_train_is_deterministic_and_leaves_global_rng_alone():
    weights = []
    for _ in range(2):
        model, loss_fn = _regression()
        drop = torch.nn.Dropout(0.5)  # uses torch's global generator, which train() seeds

        def noisy(idx, model=model, loss_fn=loss_fn, drop=drop):
            return loss_fn(idx) + (drop(model.weight).sum() ** 2) * 1e-3

        state = torch.get_rng_state()
        batches = shuffled_batches(64, 16, np.random.default_rng(1))
        train(model, batches, noisy, Schedule(steps=20, lr=0.01), method="toy", seed=5)
        assert torch.equal(torch.get_rng_state(), state)  # the caller's global generator is untouched
        weights.append(model.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_nan_loss_raises_before_the_optimizer_step():
    model, loss_fn = _regression()
    calls = []

    def nan_at_3(idx):
        calls.append(1)
        loss = loss_fn(idx)
        return loss * float("nan") if len(calls) == 4 else loss

    with pytest.raises(NonFiniteLossError) as e:
        train(
            model,
            shuffled_batches(64, 16, np.random.default_rng(0)),
            nan_at_3,
            Schedule(steps=10, lr=0.01),
            method="my-method",
            seed=7,
            hint="lower methods.my-method.lr",
        )
    err = e.value
    assert (err.method, err.seed, err.step) == ("my-method", 7, 3) and math.isnan(err.loss)
    assert "my-method" in str(err) and "seed 7" in str(err) and "step 3" in str(err)
    assert "lower methods.my-method.lr" in str(err)
    assert isinstance(err, FloatingPointError)


def test_nan_loss_takes_no_optimizer_step():
    model, _ = _regression()
    before = [p.detach().clone() for p in model.parameters()]

    def nan_loss(idx):
        return model.weight.sum() * float("nan")

    with pytest.raises(NonFiniteLossError) as e:
        train(
            model, iter([np.arange(4)] * 3), nan_loss, Schedule(steps=3, lr=1.0, weight_decay=0.5), method="m", seed=0
        )
    assert e.value.step == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())


def test_infinite_gradient_raises():
    model, _ = _regression()
    before = model.weight.detach().clone()

    def finite_loss_infinite_grad(idx):
        return (torch.sqrt(model.weight.abs()) * 0.0).sum()  # d sqrt(|w|)/dw at w = 0 is inf

    for clip in (1.0, None):  # checked whether or not gradients are clipped
        with pytest.raises(NonFiniteLossError, match="gradient norm"):
            train(
                model,
                iter([np.arange(4)] * 3),
                finite_loss_infinite_grad,
                Schedule(steps=3, lr=0.1),
                method="m",
                seed=0,
                grad_clip=clip,
            )
        assert torch.equal(model.weight, before)


def test_train_errors_on_short_iterator_and_bad_args():
    model, loss_fn = _regression()
    with pytest.raises(ValueError, match="ran out after 2 of 5 steps"):
        train(model, iter([np.arange(4)] * 2), loss_fn, Schedule(steps=5, lr=0.1), method="m", seed=0)
    with pytest.raises(ValueError, match="steps"):
        Schedule(steps=0, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        Schedule(steps=1, lr=-1.0)
    with pytest.raises(ValueError, match="horizon"):
        Schedule(steps=10, lr=0.1, horizon=5)
    with pytest.raises(ValueError, match="warmup"):
        Schedule(steps=10, lr=0.1, warmup=1.0)


def test_total_steps():
    assert total_steps(None, 2.0, 100, 32) == 7
    assert total_steps(5, 2.0, 100, 32) == 5
    assert total_steps(None, 0.01, 1, 32) == 1


# --------------------------------------------------------------------------- batching
def test_shuffled_batches_cover_each_epoch_once():
    it = shuffled_batches(10, 3, np.random.default_rng(0))
    epoch = [next(it) for _ in range(3)]  # drop_last: 3 batches of 3 per epoch
    flat = np.concatenate(epoch)
    assert len(set(flat.tolist())) == 9 and all(len(b) == 3 for b in epoch)
    again = shuffled_batches(10, 3, np.random.default_rng(0))
    assert all(np.array_equal(a, next(again)) for a in epoch)
    assert len(next(shuffled_batches(2, 8, np.random.default_rng(0)))) == 2


def test_bucketed_batches_group_similar_lengths():
    lengths = np.array([5] * 50 + [50] * 50)
    it = bucketed_batches(lengths, 10, np.random.default_rng(0), pool=10)
    batches = [next(it) for _ in range(10)]
    assert sorted(np.concatenate(batches).tolist()) == list(range(100))  # one epoch, every item once
    assert all(len(set(lengths[b].tolist())) == 1 for b in batches)  # no batch mixes short and long


def _bitext():
    return {
        "en": [],
        "h1": [BitextPair(f"p{i}", f"h{i}") for i in range(300)],
        "l1": [BitextPair(f"p{i}", f"l{i}") for i in range(20)],
        "l2": [BitextPair(f"p{i}", f"m{i}") for i in range(10)],
    }


def test_balanced_bitext_batches_balance_languages():
    it = balanced_bitext_batches(_bitext(), 8, np.random.default_rng(0))
    batches = [next(it) for _ in range(30)]
    assert all(isinstance(b, BitextBatch) and b.language is not None for b in batches)
    counts = Counter(b.language for b in batches)
    assert counts == {"h1": 10, "l1": 10, "l2": 10}  # exact rounds, the pivot (no pairs) skipped
    for b in batches:
        assert len(b.pivot) == len(b.other) == len(b.languages) == 8
        assert all(o[0] == {"h1": "h", "l1": "l", "l2": "m"}[b.language] for o in b.other)
        assert all(p[1:] == o[1:] for p, o in zip(b.pivot, b.other))  # pairs stay aligned


def test_balanced_bitext_batches_proportional_and_mixed():
    prop = balanced_bitext_batches(_bitext(), 8, np.random.default_rng(0), alpha=1.0)
    counts = Counter(next(prop).language for _ in range(400))
    assert counts["h1"] > 300  # 300 of 330 pairs: ~91 % of batches
    mixed = balanced_bitext_batches(_bitext(), 30, np.random.default_rng(0), mixed=True)
    b = next(mixed)
    assert b.language is None and len(b.other) == 30
    assert set(Counter(b.languages).values()) <= set(range(4, 17))
    with pytest.raises(ValueError, match="no bitext"):
        next(balanced_bitext_batches({"en": []}, 4, np.random.default_rng(0)))


# --------------------------------------------------------------------------- teacher
@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from harness.benchmarks.synthetic import SyntheticBenchmark
    from harness.cache import Cache
    from harness.models.encoder import BiEncoder
    from harness.models.mini import MiniOptions

    bench = SyntheticBenchmark(
        {
            "n_topics": 6,
            "n_concepts": 120,
            "queries": 20,
            "corpus_docs": 40,
            "train_pairs": 48,
            "pretrain_sentences": {"high": 100, "mid": 50, "low": 20},
            "bitext_pairs": {"high": 10, "mid": 10, "low": 10},
        },
        Cache(tmp_path_factory.mktemp("cache")),
    )
    path = bench.base_model_dir(MiniOptions(vocab_size=600, hidden=32, heads=2, mlm_steps=2, batch_size=16))
    return BiEncoder.from_pretrained(path), list(bench.train_pairs())


def test_train_teacher_is_deterministic_and_leaves_base_unchanged(tiny_base):
    base, pairs = tiny_base
    before = {k: v.clone() for k, v in base.state_dict().items()}
    opts = TeacherOptions(steps=4, batch_size=8, lr=1e-3)
    a = train_teacher(base, pairs, opts, seed=0)
    b = train_teacher(base, pairs, opts, seed=0)
    c = train_teacher(base, pairs, opts, seed=1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # identical weights for a fixed seed
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)  # another seed, another order
    assert any(not torch.equal(sa[k], before[k]) for k in sa)  # it trained
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())  # base untouched
    assert not a.training


def test_teacher_learns_pivot_retrieval(tiny_base):
    base, pairs = tiny_base
    teacher = train_teacher(base, pairs, TeacherOptions(epochs=8, batch_size=16, lr=2e-3), seed=0)

    def top1(enc):
        q = enc.encode([p.query for p in pairs])
        d = enc.encode([p.positive for p in pairs])
        return float(((q @ d.T).argmax(1) == torch.arange(len(pairs))).float().mean())

    assert top1(teacher) > top1(base)


def test_teacher_options():
    with pytest.raises(ConfigError) as e:
        TeacherOptions.from_mapping({"temperature": 0})
    assert e.value.path == "teacher.temperature"
    with pytest.raises(ConfigError) as e:
        TeacherOptions.from_mapping({"epoch": 3})
    assert e.value.path == "teacher.epoch" and "did you mean 'epochs'" in str(e.value)
    assert TeacherOptions(epochs=2, batch_size=10).total_steps(25) == 5
    with pytest.raises(ValueError, match="no pivot training pairs"):
        train_teacher(object(), [], TeacherOptions(), seed=0)  # type: ignore[arg-type]


def test_train_pair_type():
    assert TrainPair("q", "d").positive == "d"


def test_progress_without_a_terminal_is_a_line_per_quarter(capsys):
    """No terminal (a log file) or a worker process: a start line and three progress lines, no bar."""
    model, loss_fn = _regression()
    batches = shuffled_batches(64, 16, np.random.default_rng(0))
    train(model, batches, loss_fn, Schedule(steps=8, lr=0.01), method="toy", seed=0, progress=True, desc="stage X")
    first, *lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert first == "stage X: started (8 steps)"
    assert [line.split(",")[0] for line in lines] == [
        "stage X: step 2/8 (25%)",
        "stage X: step 4/8 (50%)",
        "stage X: step 6/8 (75%)",
    ]
    assert all(line.endswith(" s") and "loss " in line for line in lines)
