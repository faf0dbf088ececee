{% include "driver/explain.py.j2" -%}
