{% set lib = "pytensor" %}{% set lib_name = "PyTensor" %}{% include "driver/symbolic_engine.py.j2" -%}
