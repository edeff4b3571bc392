"""The toolkit stages share, built-in or third-party: the trainer skeleton (epochs, checkpoints, resume,
data parallel, Ctrl-C, loss log), search orchestration, the image reader, figures and tables.

Imports :mod:`ganaug.api`, :mod:`ganaug.runtime` and :mod:`ganaug.numeric`."""
