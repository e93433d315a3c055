"""A tiny end-to-end config shared by the run, Ray and plugin tests (seconds per cell).

``TINY.format(extra=...)`` appends method/executor tables.
"""

TINY = """
name = "tiny"
seeds = [0, 1]
metrics = ["ndcg@10", "recall@100", "mrr@10"]
device = "cpu"
[benchmark]
name = "synthetic"
seed = 5
languages = {{ en = "high", h1 = "high", l1 = "low", l2 = "low" }}
n_topics = 8
n_concepts = 160
queries = 40
corpus_docs = 120
train_pairs = 160
pretrain_sentences = {{ high = 300, mid = 100, low = 80 }}
bitext_pairs = {{ high = 60, mid = 40, low = 40 }}
[model]
max_length = 32
[mini]
vocab_size = 600
layers = 1
hidden = 32
heads = 2
max_length = 32
mlm_epochs = 1
batch_size = 64
[teacher]
epochs = 1
batch_size = 32
max_length = 32
[training]
num_threads = 1
[methods.zero-shot]
[methods.bm25]
{extra}
[analysis]
n_permutations = 1000
n_bootstrap = 200
"""
