{% include "driver/data.py.j2" -%}
