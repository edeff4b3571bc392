"""What a plugin imports: hook specs, the contracts (interfaces, records, capabilities), the contexts a
component is handed, option and component-reference helpers, shared option validators.

Imports only :mod:`ganaug.runtime` and :mod:`ganaug.numeric` (tests/meta/test_layers.py)."""
