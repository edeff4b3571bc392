"""Built-in ganaug plugins: models/iagan."""
