{% include "driver/test_project.py.j2" -%}
