"""Templates of ``ganaug new-plugin`` (see :mod:`ganaug.scaffold`); data files, no code."""
