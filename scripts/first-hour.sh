#!/usr/bin/env bash
# A new user's first hour (issue 28), replayed in a fresh virtual environment: the quick start, a
# wheel install, the CUDA guard, --debug, init's destination check, a scaffolded project's records,
# update's template versions, verify on a missing device, the environment cache. Needs only the
# package registries of pip's configuration. One line per step; exits 1 at the first failed step.
#
#   bash scripts/first-hour.sh          # from a clone; about 5-10 minutes, most of it installing PyTorch
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/dlpick-first-hour.XXXXXX")
trap 'rm -rf "$work"' EXIT
export DLPICK_ENVS="$work/envs" XDG_CACHE_HOME="$work/cache" NO_COLOR=1 COLUMNS=100
start=$SECONDS
step() { printf '%-58s' "$1"; }
ok() { echo "ok ($((SECONDS - start)) s)"; }
fail() { echo "FAILED: $1"; exit 1; }

step "fresh venv, then bash scripts/demo.sh"
python3 -m venv "$work/.venv" && . "$work/.venv/bin/activate"
DLPICK_DEMO_DEST="$work/demo/team-vision" bash scripts/demo.sh >"$work/demo.log" 2>&1 \
  || fail "demo exited $?: $(tail -3 "$work/demo.log" | tr '\n' ' ')"
grep -q "verified: pytorch" "$work/demo.log" || fail "the demo's project was not verified"
ok
grep -E "^dlpick: (PyTorch builds|pinned)" "$work/demo.log" | sed 's/^/    /'

step "no CUDA build in the venv (no NVIDIA GPU here)"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "skipped (this machine has an NVIDIA GPU)"
else
  python -m pip list 2>/dev/null | grep -iE '^(nvidia-|cuda-toolkit)' && fail "CUDA packages installed"
  python -c "import torch, sys; sys.exit(torch.version.cuda is not None)" || fail "torch is a CUDA build"
  ok
fi

step "a wheel built by pip carries templates and knowledge"
python -m pip wheel --quiet --no-deps -w "$work/dist" . >"$work/wheel.log" 2>&1 || fail "$(tail -1 "$work/wheel.log")"
wheel=$(ls "$work"/dist/dlpick-*.whl)
python -m zipfile -l "$wheel" >"$work/wheel.txt" || fail "unreadable wheel"
grep -q "dlpick/_data/templates/pytorch/cookiecutter.json" "$work/wheel.txt" || fail "no templates"
grep -q "dlpick/_data/knowledge/frameworks/pytorch.yaml" "$work/wheel.txt" || fail "no knowledge"
python -m pip install --quiet --no-deps --force-reinstall "$wheel" >/dev/null 2>&1 || fail "wheel install"
(cd "$work" && dlpick show jax --json >/dev/null) || fail "the installed dlpick does not run outside the clone"
ok

cd "$work"
step "--debug keeps exit 2 and the JSON error"
out=$(dlpick --debug recommend --task imagee-classification --json 2>"$work/debug.err"); code=$?
[ "$code" -eq 2 ] && [[ "$out" == *'"exit_code": 2'* ]] && grep -q Traceback "$work/debug.err" \
  || fail "exit $code, stdout: $out"
ok

step "init --profile ../missing/dlpick.yaml fails before asking"
err=$(dlpick init --profile ../missing/dlpick.yaml 2>&1 </dev/null); code=$?
[ "$code" -eq 2 ] && [[ "$err" == *"does not exist"* ]] || fail "exit $code: $err"
ok

step "scaffold: no .cruft.json, README links resolve"
dlpick scaffold pytorch -t tabular-classification -d proj --no-verify --no-input >/dev/null 2>&1 || fail "scaffold"
[ ! -e proj/.cruft.json ] || fail ".cruft.json names a repository dlpick does not control"
grep -q "(.dlpick/base.json)" proj/README.md && [ -f proj/.dlpick/base.json ] || fail "README link"
ok

step "update --dry-run shows the template version"
dlpick update proj --dry-run | grep -q "template [0-9.]* -> [0-9.]*" || fail "no template version"
ok

step "verify --device cuda without a GPU: not verified, exit 3"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "skipped (this machine has an NVIDIA GPU)"
else
  dlpick verify proj --device cuda --json >"$work/cuda.json" 2>/dev/null; code=$?
  [ "$code" -eq 3 ] && grep -q '"verified": false' "$work/cuda.json" || fail "exit $code"
  ok
fi

step "envs lists sizes; prune --dry-run runs"
dlpick envs >/dev/null && dlpick envs prune --max-size 10GB --dry-run >/dev/null || fail "envs"
ok

echo "first hour: every step passed in $((SECONDS - start)) s"
cd "$repo"
