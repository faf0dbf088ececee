{% set server = "fastapi" %}{% set serve_runtime = "onnx" %}{% include "src/serve.py.j2" -%}
