{% set rgb_images = true %}{% include "src/datasets.py.j2" -%}
