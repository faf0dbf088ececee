{% set server = "fastapi" %}{% set serve_runtime = "tensorflow" %}{% include "src/serve.py.j2" -%}
