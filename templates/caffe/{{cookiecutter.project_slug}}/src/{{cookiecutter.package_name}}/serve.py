{% set server = "stdlib" %}{% set serve_runtime = "portable" %}{% include "src/serve.py.j2" -%}
