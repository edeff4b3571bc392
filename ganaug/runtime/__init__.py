"""Runtime helpers every layer may use: errors, atomic files, devices and seeds, the torchrun world,
console and progress. Imports nothing else from ganaug."""
