"""Built-in ganaug plugins: losses."""
