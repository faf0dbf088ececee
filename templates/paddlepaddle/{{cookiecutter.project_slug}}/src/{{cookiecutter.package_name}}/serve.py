{% set server = "fastapi" %}{% set serve_runtime = "engine" %}{% include "src/serve.py.j2" -%}
