#!/usr/bin/env bash
# The main job: install dlpick, then recommend a framework for an example team profile.
# (Scaffolding and smoke-training the pick join this script with `dlpick scaffold`.)
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e .
dlpick recommend --answers examples/team.yaml
