"""The plain-Python core: knowledge, answers, scoring. Never imports typer, rich or questionary."""
