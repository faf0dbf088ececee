{% set checkpoint = "npz" %}{% include "driver/checkpoint.py.j2" -%}
