"""Built-in feature backbones for sample-quality metrics, fitted on the run's own images (no downloads)."""
