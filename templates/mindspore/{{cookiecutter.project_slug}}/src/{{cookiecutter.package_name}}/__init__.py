"""{{ cookiecutter.project_name }}: {{ cookiecutter.task }} with MindSpore."""
