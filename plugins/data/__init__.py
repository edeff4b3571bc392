"""Built-in ganaug plugins: data."""
