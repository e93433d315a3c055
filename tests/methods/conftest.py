"""Fixtures of the method tests: the example third-party plugin, and a tiny world with a teacher."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load_helper(name: str, path: Path):
    """Import a helper module of this directory by path (tests/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_plugin_helper = _load_helper("harness_tests_example_plugin", Path(__file__).with_name("example_plugin.py"))
ExposedPlugin = _plugin_helper.ExposedPlugin
exposed_example_plugin = _plugin_helper.exposed_example_plugin


@pytest.fixture
def example_plugin(tmp_path_factory) -> ExposedPlugin:
    """The example plugin package (``examples/harness-lang-center``) installed as a
    distribution on ``sys.path`` and discovered through its entry point; removed after
    the test.  ``example_plugin.env()`` exposes it to subprocesses."""
    with exposed_example_plugin(tmp_path_factory.mktemp("example-plugin-site")) as plugin:
        yield plugin


# ----------------------------------------------------------------------------- tiny world
TINY_WORLD = {
    "n_topics": 6,
    "n_concepts": 120,
    "queries": 12,
    "corpus_docs": 48,
    "train_pairs": 96,
    "pretrain_sentences": {"high": 300, "low": 60},
    "bitext_pairs": {"high": 64, "low": 32},
}
TINY_MINI = {
    "vocab_size": 400,
    "layers": 1,
    "hidden": 32,
    "heads": 2,
    "mlm_steps": 20,
    "batch_size": 32,
    "max_length": 48,
}
TINY_TEACHER = {"steps": 20, "batch_size": 16, "max_length": 48}


class TinyWorld:
    """A small synthetic benchmark with a trained teacher per seed, and FitContexts for it."""

    def __init__(self, root: Path):
        from harness.benchmarks.synthetic import SyntheticBenchmark
        from harness.cache import Cache

        self.root = root
        self.cache = Cache(root / "cache")
        self.benchmark = SyntheticBenchmark(TINY_WORLD, self.cache)
        self.base_dir = self.benchmark.base_model_dir(TINY_MINI, "cpu")
        self._teachers: dict[int, object] = {}

    def teacher(self, seed: int):
        import torch

        from harness.models.encoder import BiEncoder
        from harness.training import TeacherOptions, train_teacher

        if seed not in self._teachers:
            base = BiEncoder.from_pretrained(self.base_dir, max_length=48)
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                t = train_teacher(base, self.benchmark.train_pairs(), TeacherOptions(**TINY_TEACHER), seed=seed)
            t.eval()
            for p in t.parameters():
                p.requires_grad_(False)
            self._teachers[seed] = t
        return self._teachers[seed]

    def ctx(self, method: str, seed: int = 0, needs_teacher: bool = True):
        import numpy as np

        from harness.cache import Cache
        from harness.plugin import FitContext
        from harness.training import TrainingOptions

        return FitContext(
            benchmark=self.benchmark,
            teacher=self.teacher(seed) if needs_teacher else None,
            seed=seed,
            rng=np.random.default_rng(np.random.SeedSequence([seed, len(method)])),
            device="cpu",
            method=method,
            cache=Cache(self.root / "methods" / method),
            progress=False,
            training=TrainingOptions(grad_clip=1.0, encode_batch_size=64),
            base_model=str(self.base_dir) if needs_teacher else None,
        )


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> TinyWorld:
    """A tiny synthetic world (6 languages, 12 queries each) with a 1-layer mini BERT;
    torch runs on one thread while it is used (the CPU is shared)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield TinyWorld(tmp_path_factory.mktemp("tiny-world"))
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- tiny Marian
PAIRS = [
    ("maji safi", "clean water"),
    ("mti mkubwa", "big tree"),
    ("maji", "water"),
    ("mti mkubwa sana", "very big tree"),
    ("safi sana", "very clean"),
    ("nyumba", "house"),
]


@pytest.fixture(scope="session")
def marian_pairs() -> list[tuple[str, str]]:
    """The (source, target) pairs the tiny Marian model has memorised."""
    return list(PAIRS)


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory):
    """A tiny Marian model trained until it reproduces PAIRS, saved with save_pretrained
    next to a word-level fast tokenizer built offline with `tokenizers`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        vocab = ["<pad>", "</s>", "<unk>", "sw_SW", "en_EN"] + sorted({w for s, t in PAIRS for w in f"{s} {t}".split()})
        tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
        tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
        cfg = MarianConfig(
            vocab_size=len(vocab),
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=32,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
            forced_eos_token_id=1,
            dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
        )
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = MarianMTModel(cfg)
        src = fast([s for s, _ in PAIRS], return_tensors="pt", padding=True)
        labels = fast([t for _, t in PAIRS], return_tensors="pt", padding=True)["input_ids"]
        labels[labels == 0] = -100
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(150):
            loss = model(**src, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        path = tmp_path_factory.mktemp("tiny-marian")
        model.save_pretrained(path)
        fast.save_pretrained(path)
    finally:
        torch.set_num_threads(threads)
    return path
