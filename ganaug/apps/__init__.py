"""Applications on top of a run: the CLI, the model API, sweeps and their aggregation, export,
Slurm and the plugin scaffold."""
