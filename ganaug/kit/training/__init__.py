"""The trainer skeleton the train and encoder stages build on, and a third-party stage may too:
seeded epochs, checkpoints and resume, data parallel, Ctrl-C, NaN checks, the loss log."""
