{% include "src/datasets.py.j2" -%}
