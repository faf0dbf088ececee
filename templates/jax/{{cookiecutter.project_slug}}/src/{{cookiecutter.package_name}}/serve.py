{% set server = "fastapi" %}{% set serve_runtime = "stablehlo" %}{% include "src/serve.py.j2" -%}
