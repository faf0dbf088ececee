{% set rgb_images = true %}{% include "driver/test_project.py.j2" -%}
