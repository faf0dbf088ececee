{% set stdlib_config = true %}{% include "src/config.py.j2" -%}
