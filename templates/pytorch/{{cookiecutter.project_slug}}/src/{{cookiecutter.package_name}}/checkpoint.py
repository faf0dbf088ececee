{% set checkpoint = "torch" %}{% include "driver/checkpoint.py.j2" -%}
