{% set distributed = false %}{% include "driver/data.py.j2" -%}
