"""Built-in ganaug plugins: all families."""
