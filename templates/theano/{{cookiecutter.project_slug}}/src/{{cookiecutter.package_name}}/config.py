{% include "src/config.py.j2" -%}
