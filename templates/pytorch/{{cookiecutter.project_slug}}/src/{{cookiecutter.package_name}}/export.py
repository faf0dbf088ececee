{% include "driver/export.py.j2" -%}
