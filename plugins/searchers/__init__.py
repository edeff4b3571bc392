"""Built-in ganaug plugins: searchers."""
