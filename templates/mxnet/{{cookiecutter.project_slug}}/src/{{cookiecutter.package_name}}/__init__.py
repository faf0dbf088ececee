"""{{ cookiecutter.project_name }}: {{ cookiecutter.task }} with MXNet (Gluon)."""
