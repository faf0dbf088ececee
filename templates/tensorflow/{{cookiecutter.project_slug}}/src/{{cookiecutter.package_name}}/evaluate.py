{% include "driver/evaluate.py.j2" -%}
