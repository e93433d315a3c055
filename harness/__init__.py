"""Statistical benchmarking harness for cross-lingual retrieval methods."""

__version__ = "0.1.0"
