"""Fault injection for the reliability tests: run the real CLI in a subprocess and kill it."""
