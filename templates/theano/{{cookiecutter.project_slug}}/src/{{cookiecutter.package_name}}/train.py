{% set distributed = false %}{% set tensorboard = false %}{% set drop_last = false %}{% set torch_checkpoint = false %}{% include "driver/train.py.j2" -%}
