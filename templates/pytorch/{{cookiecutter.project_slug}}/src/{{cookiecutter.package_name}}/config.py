{% set rgb_images = true %}{% include "src/config.py.j2" -%}
