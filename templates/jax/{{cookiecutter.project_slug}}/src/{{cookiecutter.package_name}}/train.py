{% set distributed = true %}{% set tensorboard = false %}{% set drop_last = true %}{% include "driver/train.py.j2" -%}
