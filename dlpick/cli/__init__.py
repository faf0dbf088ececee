"""The thin typer layer: parses flags, calls the core, renders results."""
