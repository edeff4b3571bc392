"""Running a recipe: the engine, the run folder, the data fingerprint, the run report, side-by-side
stages and restoring finished ones (what both ``ganaug run`` and ``load_model`` use)."""
