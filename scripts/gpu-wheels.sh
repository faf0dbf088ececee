#!/usr/bin/env bash
# The wheels scripts/gpu-check.sh installs on the offline GPU machine (issue 30), downloaded here, on a
# machine that reaches a package index: CPython 3.12, manylinux x86_64, for what the check needs beyond
# what that machine has (Python 3.12 with PyTorch, torchvision, JAX + CUDA plugin, Flax, optax, orbax,
# onnx, onnxruntime, scikit-learn, pillow, numpy, pytest, typer, jinja2, pyyaml, rich, psutil): dlpick's
# own dependencies (cookiecutter, pydantic, questionary, ...; not uv, which only `verify --isolated` uses)
# and the generated projects' (matplotlib, fastapi, uvicorn, onnxscript, tensorboard, flatbuffers), each
# with the dependencies pip resolves for them, less the big ones the machine certainly has. Writes
# manifest.json beside them (what was asked for, what the machine is taken to have) and prints the folder.
#
#   bash scripts/gpu-wheels.sh                # into gpu-wheels/ (ignored by git), or $GPU_WHEELS
#   bash scripts/gpu-wheels.sh --roots        # only print the requirements asked for
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEST=${GPU_WHEELS:-$PWD/gpu-wheels}
LIMIT_MIB=60

# What the GPU machine has: the packages it was set up with, then dependencies they certainly bring
# (torch on Python 3.12: sympy, mpmath, setuptools; rich: pygments, markdown-it-py, mdurl; jax: ml-dtypes,
# scipy; onnx: protobuf; jinja2: markupsafe). Their wheels are not carried (numpy, onnx, sympy, ... would
# be tens of MiB), and the dry run of gpu-check.sh takes this list as that machine's packages. Small
# dependencies whose version matters (typing-extensions, packaging, click) are carried: gpu-check.sh
# installs one only where the machine lacks it or has a version that does not fit. So are dlpick's own
# dependencies (typer<0.29, rich, pyyaml, psutil, ...), in the ranges dlpick's pyproject.toml asks for.
MACHINE="torch torchvision jax jaxlib flax optax orbax-checkpoint onnx onnxruntime scikit-learn pillow numpy
pytest typer jinja2 pyyaml rich psutil sympy mpmath setuptools pygments markdown-it-py mdurl ml-dtypes scipy
protobuf markupsafe"
# The generated projects' requirements the machine lacks (the dry run checks the projects ask for no other).
PROJECT_NEEDS="matplotlib>=3.8 fastapi>=0.110 uvicorn>=0.29 onnxscript>=0.2 tensorboard>=2.15 flatbuffers>=24"

roots() {  # dlpick's dependencies for CPython 3.12 (markers evaluated) but uv, then the projects' the machine lacks
  "$PY" - <<'EOF'
import re
try:
    import tomllib
except ImportError:  # Python 3.10: dlpick depends on tomli there
    import tomli as tomllib
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
target = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
with open("pyproject.toml", "rb") as file:
    for line in tomllib.load(file)["project"]["dependencies"]:
        req = Requirement(line)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name == "uv" or (req.marker and not req.marker.evaluate(target)):
            continue
        print(f"{name}{req.specifier}")
EOF
  printf '%s\n' $PROJECT_NEEDS
}

if [ "${1:-}" = "--roots" ]; then roots; exit 0; fi
wanted=$(roots)
stage=$(mktemp -d "${TMPDIR:-/tmp}/dlpick-gpu-wheels.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# PIP_CONSTRAINT= : a pip configuration may pin versions with a constraint file (this development machine
# caps torch); none applies to these wheels. The configured indexes stay (CI's mirror); -qq: errors only.
# shellcheck disable=SC2086
PIP_CONSTRAINT= "$PY" -m pip download -qq --disable-pip-version-check --dest "$stage/all" \
  --python-version 3.12 --implementation cp --abi cp312 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --only-binary=:all: $wanted
mkdir -p "$stage/keep"
"$PY" - "$stage/all" "$stage/keep" "$MACHINE" "$wanted" "$PROJECT_NEEDS" <<'EOF'
import json, re, shutil, sys
from pathlib import Path
src, keep, machine, wanted = Path(sys.argv[1]), Path(sys.argv[2]), set(sys.argv[3].split()), sys.argv[4].split()
projects = sys.argv[5].split()
dropped = []
asked = {re.split(r"[<>=!~\[;]", line, maxsplit=1)[0] for line in wanted}
for wheel in sorted(src.glob("*.whl")):
    name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
    if name in machine and name not in asked:  # dlpick's own (typer, rich, pyyaml...) travel: it needs their range
        dropped.append(wheel.name.split("-")[0])
    else:
        shutil.copy2(wheel, keep / wheel.name)
manifest = {"python": "3.12", "roots": wanted, "project_roots": projects, "machine": sorted(machine),
            "not_carried": dropped}
(keep / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
EOF
bytes=$(du -cb "$stage"/keep/*.whl | tail -1 | cut -f1)
size="$(find "$stage/keep" -name '*.whl' | wc -l) wheels, $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB"
if [ "$bytes" -ge $(( LIMIT_MIB * 1048576 )) ]; then
  echo "gpu-wheels: $size: over the $LIMIT_MIB MiB limit; nothing written to $DEST" >&2
  exit 1
fi
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$stage/keep" "$DEST"
echo "gpu-wheels: $size (limit $LIMIT_MIB MiB), for CPython 3.12 manylinux x86_64, in"
echo "$DEST"
