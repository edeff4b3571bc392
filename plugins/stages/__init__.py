"""Built-in ganaug plugins: stages."""
