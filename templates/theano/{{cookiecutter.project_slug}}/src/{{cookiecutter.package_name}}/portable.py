{% include "driver/portable.py.j2" -%}
