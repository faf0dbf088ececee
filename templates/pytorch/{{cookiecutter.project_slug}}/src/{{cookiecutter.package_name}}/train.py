{% set distributed = true %}{% set tensorboard = true %}{% set drop_last = false %}{% set checkpoint = "torch" %}{% include "driver/train.py.j2" -%}
