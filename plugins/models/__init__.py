"""Built-in ganaug plugins: models."""
