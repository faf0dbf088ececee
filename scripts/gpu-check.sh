#!/usr/bin/env bash
# The CUDA paths, checked on an offline machine with an NVIDIA GPU (issues 14 and 30), in the machine's own
# python3 (no environment is built: that machine reaches no package index). First dlpick's dependencies
# that python3 lacks are installed from the wheels scripts/gpu-wheels.sh downloaded (--no-index, into a
# temporary folder put on PYTHONPATH); then the PyTorch and JAX image-classification and
# tabular-classification projects are scaffolded and verified with `--device cuda`. TensorFlow projects
# only where TensorFlow is installed. One line per project: passed / failed / not checked, the device the
# run used, the time and, for PyTorch, the mixed precision its engine picks on this GPU. Every step has its
# own time limit, cut to what is left of the whole check's budget (330 s): it ends within 6 minutes.
#
#   bash scripts/gpu-wheels.sh                  # where an index is reachable: fills gpu-wheels/ (< 60 MiB)
#   bash scripts/gpu-check.sh                   # on the GPU machine, from the repository root
#   GPU_CHECK_DRY_RUN=1 bash scripts/gpu-check.sh   # anywhere: the wheels (for CPython 3.12) go into a
#       # temporary folder, the projects are scaffolded and their requirements matched, nothing is trained
#   GPU_CHECK_FRAMEWORKS="pytorch" GPU_WHEELS=/path/to/wheels bash scripts/gpu-check.sh
# Exit status: 0 every project that was checked passed (and the dry run's steps worked), 1 one failed,
# 3 nothing could be checked (no GPU, no wheel folder, a wheel missing).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${GPU_WHEELS:-$PWD/gpu-wheels}
DRY=${GPU_CHECK_DRY_RUN:-0}
[ "$DRY" = 0 ] && DRY=
BUDGET=${GPU_CHECK_BUDGET_S:-330}
START=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dlpick-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TARGET=$WORK/site
export DLPICK_ENVS=$WORK/envs PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
# verify runs a JAX project's smoke-train and its tests side by side on the one GPU: without this each
# JAX process reserves 75% of the GPU's memory at start and the second one runs out.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

say() { echo "gpu-check: $*"; }
since() { echo $(( $(date +%s) - $1 )); }
limit() {  # the seconds a step may take: its own limit, or what is left of the budget when that is less
  local left=$(( START + BUDGET - $(date +%s) ))
  left=$(( left < 1 ? 1 : left ))  # `timeout 0` would mean no limit at all
  echo $(( $1 < left ? $1 : left ))
}

gpu=
if command -v nvidia-smi >/dev/null && timeout 20 nvidia-smi -L >/dev/null 2>&1; then
  gpu=$(timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
  say "$gpu"
elif [ -z "$DRY" ]; then
  say "no NVIDIA GPU answers nvidia-smi here; nothing checked (GPU_CHECK_DRY_RUN=1 checks the script itself)"
  exit 3
fi
[ -n "$DRY" ] && say "dry run: $("$PY" -V 2>&1) stands in for the GPU machine's Python 3.12; nothing is trained"

cat >"$WORK/helper.py" <<'EOF'
"""gpu-check's Python side: which wheels to install, what a project needs, what precision PyTorch picks."""
import json, re, sys, zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement

# The dry run judges markers as on the GPU machine: CPython 3.12 on x86_64 Linux.
TARGET_ENV = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
              "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
              "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def canon(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def applies(req, dry, extra=""):
    return req.marker is None or req.marker.evaluate({**(TARGET_ENV if dry else {}), "extra": extra})


def inventory(wheels, dry, target=None):
    """{distribution: version} this Python has; the dry run takes the machine list (versions unknown: None)
    of the wheel folder's manifest, plus what is installed in `target`."""
    if dry:
        have = {canon(n): None for n in json.loads((Path(wheels) / "manifest.json").read_text())["machine"]}
    else:
        have = {}
        for dist in metadata.distributions():
            have.setdefault(canon(dist.metadata["Name"] or ""), dist.version)
    if target:
        for dist in metadata.distributions(path=[target]):
            have[canon(dist.metadata["Name"])] = dist.version
    return have


def fits(req, version):
    return version is None or req.specifier.contains(version, prereleases=True)


def wheel_info(path):
    with zipfile.ZipFile(path) as whl:
        name = next(n for n in whl.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(whl.read(name).decode("utf-8"))
    return meta["Version"], [Requirement(r) for r in meta.get_all("Requires-Dist") or []]


def choose(wheels, dry):
    """The wheels to install: for every requirement (the manifest's roots, then the chosen wheels' own), the
    machine's distribution where its version fits, else the folder's wheel. Paths on stdout."""
    manifest = json.loads((Path(wheels) / "manifest.json").read_text())
    folder = {canon(p.name.split("-")[0]): p for p in sorted(Path(wheels).glob("*.whl"))}
    have, chosen, problems, warnings = inventory(wheels, dry), {}, [], []
    projects = set(manifest.get("project_roots", []))
    queue = [(Requirement(r), "the projects" if r in projects else "dlpick", "", r in projects)
             for r in manifest["roots"]]
    while queue:
        req, by, extra, optional = queue.pop(0)
        if not applies(req, dry, extra):
            continue
        name = canon(req.name)
        said = warnings if optional else problems  # the projects' own: their verify says what it lacks
        if name in chosen:
            if not fits(req, chosen[name][1]):
                said.append(f"{req} (for {by}): the wheel folder has {chosen[name][1]}")
            continue
        if name in have and fits(req, have[name]) and not req.extras:
            continue
        path = folder.get(name)
        version, requires = wheel_info(path) if path else (None, [])
        if path is None or not fits(req, version):
            where = f"this Python has {have[name]}" if have.get(name) else "this Python lacks it"
            said.append(f"{req} (for {by}): {where}, and the wheel folder "
                        + (f"has {version}" if path else "does not carry it"))
            continue
        chosen[name] = (path, version)
        queue += [(r, name, "", optional) for r in requires]
        queue += [(r, name, e, optional) for e in req.extras for r in requires if r.marker and "extra" in str(r.marker)]
    for problem in problems:
        print(f"gpu-check: cannot install: {problem}; run scripts/gpu-wheels.sh again", file=sys.stderr)
    for warning in warnings:
        print(f"gpu-check: warning: {warning}; the projects' checks go on without it", file=sys.stderr)
    print("\n".join(str(path) for path, _ in chosen.values()))
    return 3 if problems else 0


def needs(project, wheels, target, dry):
    """The project's requirements this Python cannot meet (names, one line) after the wheels; outside the
    dry run, `==`/range pins of the machine's own packages (jax==0.10.2 where it has 0.11) are relaxed in
    the project's files, each said on stderr."""
    from dlpick.verify import requirements

    project = Path(project)
    machine = {canon(n) for n in json.loads((Path(wheels) / "manifest.json").read_text())["machine"]}
    have = inventory(wheels, dry, target)
    lacking, relaxed = [], []
    for line in requirements.declared(project, "cuda"):
        req = Requirement(line)
        if not applies(req, dry):
            continue
        name = canon(req.name)
        if name not in have:
            lacking.append(line)
        elif not fits(req, have[name]) and name in machine:
            relaxed.append(f"{line} (has {have[name]})")
            for path in (project / "requirements.txt", project / "pyproject.toml"):
                if path.is_file():
                    text = path.read_text(encoding="utf-8")
                    text = re.sub(rf"^{re.escape(line)}(?=\s|$)", req.name, text, flags=re.M)
                    path.write_text(text.replace(f'"{line}"', f'"{req.name}"'), encoding="utf-8")
    if relaxed:
        print(f"pins relaxed to this machine's: {', '.join(relaxed)}", file=sys.stderr)
    print(", ".join(lacking))
    return 0


def precision(package, device):
    """The mixed precision the project's PyTorch engine picks on `device` for its default config (a run's
    record does not keep it): engine._autocast, the function its Trainer calls."""
    import importlib

    config = importlib.import_module(f"{package}.config")
    engine = importlib.import_module(f"{package}.engine")
    enabled = config.load_config()["train"].get("mixed_precision", True)
    used = engine.select_device(device)
    autocast, scaler = engine._autocast(enabled)
    dtype = getattr(autocast, "fast_dtype", None)
    if dtype is None:
        print(f"mixed precision off on {used}" + ("" if enabled else " (train.mixed_precision: false)"))
    else:
        print(f"mixed precision {str(dtype).replace('torch.', '')}"
              + (" with a gradient scaler" if scaler is not None else ", no gradient scaler"))
    return 0


def verdict(name, code, seconds, out, err):
    """One line from `dlpick verify --json`'s output."""
    try:
        data = json.loads(Path(out).read_text())
    except (OSError, ValueError):
        tail = (Path(err).read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
        print(f"{name}: failed: {'timed out' if code in (124, 137) else f'exit {code}'} after {seconds} s: {tail}")
        return 0
    word = "passed" if data.get("passed") else ("not checked" if data.get("verified") is False else "failed")
    bad = [f"{c['name']}: {c.get('detail', '')}" for c in data.get("checks", []) if not c.get("passed")]
    device = data.get("device") or "device not reported"
    detail = bad[0] if not bad or len(bad[0]) <= 300 else bad[0][:150] + " ... " + bad[0][-150:]
    also = [c["name"] for c in data.get("checks", []) if not c.get("passed")][1:]
    print(f"{name}: {word} in {seconds} s on {device}" + (f" ({detail})" if bad else "")
          + (f"; also failed: {', '.join(also)}" if also else ""))
    return 0


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "choose":
        sys.exit(choose(args[0], bool(args[1])))
    if command == "needs":
        sys.exit(needs(args[0], args[1], args[2], bool(args[3])))
    if command == "precision":
        sys.exit(precision(args[0], args[1]))
    if command == "verdict":
        sys.exit(verdict(args[0], int(args[1]), args[2], args[3], args[4]))
    if command == "has":  # the framework's module: importable here; in the dry run, on the machine list
        if args[2]:
            sys.exit(0 if canon(args[0]) in inventory(args[1], True) else 1)
        import importlib.util
        sys.exit(0 if importlib.util.find_spec(args[0]) is not None else 1)
EOF
helper() { "$PY" "$WORK/helper.py" "$@"; }

# 1. dlpick's dependencies, from the wheel folder, before anything else.
if [ ! -f "$WHEELS/manifest.json" ]; then
  say "no wheel folder at $WHEELS: run scripts/gpu-wheels.sh where a package index is reachable (or set GPU_WHEELS)"
  exit 3
fi
if [ "$(bash scripts/gpu-wheels.sh --roots 2>&1)" != "$("$PY" -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["roots"]))' "$WHEELS/manifest.json")" ]; then
  say "$WHEELS was downloaded for other requirements than this checkout's: run scripts/gpu-wheels.sh again"
  exit 3
fi
t0=$(date +%s)
if ! helper choose "$WHEELS" "$DRY" >"$WORK/chosen.txt"; then exit 3; fi
mapfile -t chosen <"$WORK/chosen.txt"
total=$(find "$WHEELS" -name '*.whl' | wc -l)
# The dry run installs for the GPU machine's Python (3.12, manylinux x86_64), whatever runs it.
cross=()
[ -n "$DRY" ] && cross=(--python-version 3.12 --implementation cp --abi cp312 --platform manylinux_2_28_x86_64
  --platform manylinux2014_x86_64 --only-binary=:all: --ignore-requires-python)
mkdir -p "$TARGET"
if [ "${#chosen[@]}" -gt 0 ]; then
  if "$PY" -m pip --version >/dev/null 2>&1; then
    timeout -k 5 "$(limit 90)" "$PY" -m pip install --isolated --quiet --no-index --no-deps --target "$TARGET" \
      "${cross[@]}" "${chosen[@]}" >"$WORK/pip.log" 2>&1
  else  # no pip: a wheel is a zip archive of the folder to put on sys.path
    "$PY" -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' \
      "$TARGET" "${chosen[@]}" >"$WORK/pip.log" 2>&1
  fi || { say "cannot install the wheels: $(tail -1 "$WORK/pip.log")"; exit 3; }
fi
say "wheels: ${#chosen[@]} of $total installed from $WHEELS in $(since "$t0") s (this Python has the rest)"
if [ -z "$DRY" ]; then
  export PYTHONPATH=$PYTHONPATH:$TARGET
  "$PY" -c "import cookiecutter, pydantic, questionary, slugify, platformdirs, dlpick.cli.app" 2>"$WORK/import.err" \
    || { say "dlpick cannot start with those wheels: $(tail -1 "$WORK/import.err")"; exit 3; }
fi

# 2. The projects, image classification first (the longest and most telling), then tabular: scaffold, match
# the requirements (relaxing the pins of the machine's own frameworks), verify with --device cuda.
declare -A verify_limit=([image-classification]=150 [tabular-classification]=90)
declare -A display=([pytorch]=PyTorch [jax]=JAX [tensorflow]=TensorFlow) module=([pytorch]=torch)
status=0 frameworks=()
for fw in ${GPU_CHECK_FRAMEWORKS:-pytorch jax tensorflow}; do
  if helper has "${module[$fw]:-$fw}" "$WHEELS" "$DRY"; then
    frameworks+=("$fw")
  else
    echo "$fw: not checked: ${display[$fw]:-$fw} is not installed"
  fi
done
if [ "${#frameworks[@]}" = 0 ]; then say "none of the frameworks is installed: nothing checked"; exit 3; fi
for task in ${GPU_CHECK_TASKS:-image-classification tabular-classification}; do
  for fw in "${frameworks[@]}"; do
    name="$fw $task" dest="$WORK/$fw-$task" t0=$(date +%s)
    if [ "$(limit 30)" -lt 20 ]; then echo "$name: not checked: the check's $BUDGET s ran out"; status=1; continue; fi
    if ! timeout -k 5 "$(limit 60)" "$PY" -m dlpick scaffold "$fw" -t "$task" -d "$dest" --no-verify --json \
        >"$WORK/scaffold.json" 2>"$WORK/scaffold.err"; then
      echo "$name: failed: scaffold: $(tail -1 "$WORK/scaffold.err")"; status=1; continue
    fi
    scaffolded=$(since "$t0")
    lacking=$(helper needs "$dest" "$WHEELS" "$TARGET" "$DRY" 2>"$WORK/relaxed.txt") \
      || { echo "$name: failed: cannot read its requirements: $(tail -1 "$WORK/relaxed.txt")"; status=1; continue; }
    note=$(cat "$WORK/relaxed.txt")
    if [ -n "$lacking" ]; then
      echo "$name: not checked: needs $lacking, which neither this Python nor the wheel folder has"; status=1; continue
    fi
    amp=
    if [ "$fw" = pytorch ]; then
      pkg=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["package_name"])' "$WORK/scaffold.json")
      if amp=$(cd "$dest" && PYTHONPATH=src:$PYTHONPATH timeout -k 5 "$(limit 60)" "$PY" "$WORK/helper.py" \
          precision "$pkg" "$([ -n "$DRY" ] && echo cpu || echo cuda)" 2>"$WORK/precision.err"); then
        amp="; $amp (the engine's choice here: runs do not record it)"
      else
        amp="; mixed precision unknown: $(tail -1 "$WORK/precision.err" | cut -c1-160)"
      fi
    fi
    if [ -n "$DRY" ]; then
      echo "$name: dry run: scaffolded in $scaffolded s, requirements met by this Python and the wheels;" \
        "would verify with --device cuda within ${verify_limit[$task]} s$amp${note:+; $note}"
      continue
    fi
    t0=$(date +%s) outer=$(limit "${verify_limit[$task]}")
    timeout -k 10 "$outer" "$PY" -m dlpick verify "$dest" --device cuda --timeout $(( outer * 2 / 3 + 1 )) --json \
      >"$WORK/verify.json" 2>"$WORK/verify.err"
    code=$?
    [ "$code" = 0 ] || status=1
    echo "$(helper verdict "$name" "$code" "$(since "$t0")" "$WORK/verify.json" "$WORK/verify.err")$amp${note:+; $note}"
  done
done

if [ -n "$DRY" ]; then
  say "dry run done in $(since "$START") s; ${gpu:-no NVIDIA GPU here}: nothing verified"
else
  say "done in $(since "$START") s"
fi
exit $status
