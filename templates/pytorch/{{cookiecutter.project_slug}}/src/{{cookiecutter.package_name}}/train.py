{% set distributed = true %}{% set tensorboard = true %}{% set drop_last = false %}{% include "driver/train.py.j2" -%}
