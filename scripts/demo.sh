#!/usr/bin/env bash
# The main job: install dlpick with what a PyTorch project needs on a CPU, recommend a framework
# for the example team profile, scaffold a starter project for the pick and smoke-train it.
set -euo pipefail
cd "$(dirname "$0")/.."
# dlpick's installer step (pip underneath): with no NVIDIA GPU it takes PyTorch's CPU build (its CPU
# wheel index, or the newest +cpu build pip's own indexes offer) and refuses a CUDA build; see
# "Installing" in README.md for DLPICK_TORCH_INDEX and DLPICK_CONSTRAINT. The [torch] extra holds
# everything the demo's verification needs (pytest for the project's own tests included).
python -m dlpick.verify.wheels install --quiet --disable-pip-version-check -e ".[torch]"
answers=examples/team.yaml
dest=${DLPICK_DEMO_DEST:-$(mktemp -d)/team-vision}
dlpick recommend --answers "$answers" --top 3
# No FRAMEWORK argument: scaffold takes the recommendation's top pick, then verifies it
# (smoke-train, metrics, loss, export round-trip, the project's own tests).
dlpick scaffold --answers "$answers" --dest "$dest" --name "Team Vision" --no-input
echo "project: $dest"
