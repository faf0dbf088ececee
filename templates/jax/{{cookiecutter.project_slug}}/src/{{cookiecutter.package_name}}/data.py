{% set distributed = true %}{% include "driver/data.py.j2" -%}
