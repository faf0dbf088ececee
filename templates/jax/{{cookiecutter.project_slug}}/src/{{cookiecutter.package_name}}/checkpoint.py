{% set checkpoint = "orbax" %}{% include "driver/checkpoint.py.j2" -%}
