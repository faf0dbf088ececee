{% set distributed = false %}{% set tensorboard = true %}{% set drop_last = false %}{% set checkpoint = "tf" %}{% include "driver/train.py.j2" -%}
