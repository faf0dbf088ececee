#!/usr/bin/env bash
# The CUDA paths, checked on a machine with an NVIDIA GPU (issue 14): scaffold the PyTorch, TensorFlow
# and JAX image-classification projects and verify each with `--device cuda` in an isolated environment
# built from the project's GPU requirements (requirements-gpu.txt where a project has one). One line per
# framework: passed / failed / not verified, with the device the run used. Under 8 minutes when the
# package index is reachable or the wheels are cached; every step has its own time limit.
#
#   bash scripts/gpu-check.sh            # from the repository root
#   GPU_CHECK_FRAMEWORKS="pytorch jax" bash scripts/gpu-check.sh
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dlpick-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export DLPICK_ENVS=${DLPICK_ENVS:-$WORK/envs} PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU answers nvidia-smi here; nothing checked"
  exit 3
fi
echo "gpu-check: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
# dlpick itself needs its own dependencies; the frameworks come from each project's isolated environment.
"$PY" -c "import typer, yaml, pydantic, cookiecutter, psutil" 2>/dev/null \
  || timeout 300 "$PY" -m pip install --quiet -e . >"$WORK/pip.log" 2>&1 \
  || { echo "gpu-check: cannot install dlpick's dependencies: $(tail -1 "$WORK/pip.log")"; exit 3; }

status=0
for fw in ${GPU_CHECK_FRAMEWORKS:-pytorch tensorflow jax}; do
  dest="$WORK/$fw-gpu"
  if ! timeout 120 "$PY" -m dlpick scaffold "$fw" -t image-classification -d "$dest" --no-verify --json \
      >"$WORK/$fw-scaffold.json" 2>"$WORK/$fw-scaffold.err"; then
    echo "$fw: scaffold failed: $(tail -1 "$WORK/$fw-scaffold.err")"; status=1; continue
  fi
  start=$(date +%s)
  timeout 150 "$PY" -m dlpick verify "$dest" --isolated --device cuda --timeout 120 --json \
    >"$WORK/$fw-verify.json" 2>"$WORK/$fw-verify.err"
  code=$?
  seconds=$(( $(date +%s) - start ))
  "$PY" - "$fw" "$code" "$seconds" "$WORK/$fw-verify.json" "$WORK/$fw-verify.err" <<'EOF'
import json, sys
fw, code, seconds, out, err = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
try:
    data = json.load(open(out))
except ValueError:
    tail = (open(err).read().strip().splitlines() or ["no output"])[-1]
    print(f"{fw}: {'timed out' if code == 124 else f'exit {code}'} after {seconds} s: {tail}")
    sys.exit()
word = "passed" if data.get("passed") else ("not verified" if data.get("verified") is False else "failed")
bad = [f"{c['name']}: {c.get('detail', '')}" for c in data.get("checks", []) if not c.get("passed")]
device = data.get("device") or "device not reported"
print(f"{fw}: {word} in {seconds} s on {device}" + (f" ({bad[0]})" if bad else ""))
EOF
  [ "$code" = 0 ] || status=1
done
exit $status
