"""{{ cookiecutter.project_name }}: {{ cookiecutter.task }} with JAX/Flax."""
