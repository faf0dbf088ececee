{% set checkpoint = "tf" %}{% include "driver/checkpoint.py.j2" -%}
