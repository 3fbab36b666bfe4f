"""Mappings: the YAML model, its loading and checks, and the compiled form the runner executes."""
