{% include "src/metrics.py.j2" -%}
