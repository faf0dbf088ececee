{% include "src/records.py.j2" -%}
