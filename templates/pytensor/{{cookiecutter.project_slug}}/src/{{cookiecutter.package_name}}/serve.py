{% set server = "fastapi" %}{% set serve_runtime = "portable" %}{% include "src/serve.py.j2" -%}
