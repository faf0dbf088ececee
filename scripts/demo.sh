#!/usr/bin/env bash
# The main job: install dlpick with what a PyTorch project needs on a CPU, recommend a framework
# for the example team profile, scaffold a starter project for the pick and smoke-train it.
set -euo pipefail
cd "$(dirname "$0")/.."
pip_install() { python -m pip install --quiet --disable-pip-version-check "$@"; }
pip_install "torch==2.13.0"   # the CPU build; a bare `torch` would pull a multi-GB CUDA build
pip_install -e ".[torch]"
answers=examples/team.yaml
dest=${DLPICK_DEMO_DEST:-$(mktemp -d)/team-vision}
dlpick recommend --answers "$answers" --top 3
# No FRAMEWORK argument: scaffold takes the recommendation's top pick, then verifies it
# (smoke-train, metrics, loss, export round-trip, the project's own tests).
dlpick scaffold --answers "$answers" --dest "$dest" --name "Team Vision" --no-input
echo "project: $dest"
