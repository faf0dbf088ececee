{% set distributed = true %}{% set tensorboard = false %}{% set drop_last = false %}{% include "driver/train.py.j2" -%}
