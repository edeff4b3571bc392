"""ganaug benchmark suite: search, training, FLOP efficiency, memory (``python -m benchmarks.run``)."""
