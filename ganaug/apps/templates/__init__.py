"""Templates of ``ganaug new-plugin`` (see :mod:`ganaug.apps.scaffold`); data files, no code."""
