"""The knowledge base: load and validate the YAML files, overlays, and the typed read-only model."""
