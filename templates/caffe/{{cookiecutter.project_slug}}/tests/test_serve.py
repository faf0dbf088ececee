{% include "src/test_serve.py.j2" -%}
