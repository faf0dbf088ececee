{% set distributed = true %}{% set tensorboard = true %}{% set drop_last = false %}{% set torch_checkpoint = true %}{% include "driver/train.py.j2" -%}
