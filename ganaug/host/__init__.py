"""The plugin host: loading built-ins and entry points, the registry and building from references,
and which plugin an error came from."""
