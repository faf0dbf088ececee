{% set lib = "theano" %}{% set lib_name = "Theano" %}{% include "driver/symbolic_engine.py.j2" -%}
