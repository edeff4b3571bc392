"""Built-in ganaug plugins: models/dcgan."""
