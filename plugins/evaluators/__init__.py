"""Built-in ganaug plugins: evaluators."""
