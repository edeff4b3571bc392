"""Built-in ganaug plugins: weighters."""
