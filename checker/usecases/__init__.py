"""The use cases the CLI calls: each takes typed inputs and adapters and returns an outcome."""
