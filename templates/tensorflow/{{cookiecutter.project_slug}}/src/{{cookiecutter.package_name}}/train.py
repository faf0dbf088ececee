{% include "driver/train.py.j2" -%}
