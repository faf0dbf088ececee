"""`python scripts/train.py ARGS` runs `python -m {{ cookiecutter.package_name }}.train ARGS`: for launchers that
start a script file, such as `msrun` (see README, Several GPUs or machines)."""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
runpy.run_module("{{ cookiecutter.package_name }}.train", run_name="__main__", alter_sys=True)
