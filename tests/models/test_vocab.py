import subprocess
import sys

from harness.models.vocab import learn_wordpiece_vocab, train_wordpiece

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_merges_follow_counts_and_ties_break_by_text():
    words = ["abab"] * 5 + ["cdcd"] * 5 + ["ab"] * 1
    vocab = learn_wordpiece_vocab(words, vocab_size=len(SPECIALS) + 8, special_tokens=SPECIALS)
    assert vocab[: len(SPECIALS)] == SPECIALS
    merges = vocab[len(SPECIALS) + 6 :]  # alphabet: a b c ##a ##b ##c ##d ... sorted
    # ("a", "##b") occurs 11 times, the most frequent pair, so it is merged first
    assert merges[0] == "ab"


def test_frequent_words_become_single_pieces_rare_ones_split():
    words = ["river"] * 50 + ["zorblax"]  # seen once: below min_frequency = 2
    tok = train_wordpiece([" ".join(words)], 30, SPECIALS)
    assert tok.encode("river", add_special_tokens=False).tokens == ["river"]
    assert len(tok.encode("zorblax", add_special_tokens=False).tokens) > 1


def test_identical_across_processes():
    code = (
        "from harness.models.vocab import learn_wordpiece_vocab as f;"
        "import random; r=random.Random(0); ws=[''.join(r.choice('abcdefg') for _ in range(r.randint(2,7))) for _ in range(3000)];"
        "print(hash(tuple(f(ws, 300, ['[UNK]']))) if False else '|'.join(f(ws, 300, ['[UNK]'])))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outs) == 1 and len(next(iter(outs)).split("|")) == 300
