#!/usr/bin/env bash
# Install what the tests need, then run the whole suite, integration tests included (they render
# every template, smoke-train it, check its exports and run its own tests; the frameworks with old
# or conflicting pins are verified in isolated environments built from the projects' own files).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not integration" -x` for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
# With no NVIDIA GPU, dlpick's installer step takes PyTorch's CPU build and never a multi-GB CUDA one
# (README.md, "Installing": DLPICK_TORCH_INDEX, DLPICK_CONSTRAINT).
python -m dlpick.verify.wheels install --quiet --disable-pip-version-check -e ".[test,torch,tensorflow-cpu]"
# Debian packages: Chromium renders the HTML decision record in a real browser (tests/test_report.py);
# debootstrap builds the Debian bullseye root the Caffe template is verified in; g++ compiles the
# Theano and PyTensor graphs; slurm-wlm and munge run the one-node cluster tests/test_slurm.py starts.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v g++ >/dev/null || missing+=(g++)
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
status=0
checked() {  # pytest's exit status, with "no tests collected" (5) counted as a failure
  local code=0
  "$@" || code=$?
  if [ "$code" -eq 5 ]; then echo "error: pytest collected no tests" >&2; code=1; fi
  return "$code"
}

# The quick suite on the other supported Pythons (dlpick says requires-python >= 3.10), where this
# machine has them: tests that need a deep-learning framework skip there with their reason (the
# local PyTorch wheel is for Python 3.11 only). Skipped with a note when the extra runs are not
# wanted (`bash scripts/test.sh ARGS` with arguments runs only the main suite).
# The three quick suites (3.10, 3.12 and this Python's) run side by side, each in its own venv and
# temporary folder, the other two with their own logs (printed when they are done); then this Python's
# integration tests. Each quick suite keeps about one CPU busy: together they take 8-11 minutes on 2
# CPUs, against 15-16 one after the other.
quick=(-m "not integration and not needs_index")
if [ "$#" -eq 0 ]; then
  python -m pip install --quiet --disable-pip-version-check uv
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/dlpick-test.XXXXXX")  # this run's own: another run's venvs are not touched
  trap 'rm -rf "$scratch"' EXIT
  started=()
  for version in 3.10 3.12; do
    interpreter=$(ls -d "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$version".*/bin/python 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$interpreter" ] || interpreter=$(command -v "python$version" || true)
    if [ -z "$interpreter" ]; then
      echo "note: no Python $version on this machine: the quick suite did not run on it"
      continue
    fi
    venv="$scratch/py$version"
    uv venv --quiet --python "$interpreter" "$venv"
    VIRTUAL_ENV="$venv" uv pip install --quiet -e ".[test]"
    echo "quick suite on $("$venv/bin/python" --version): started"
    ( checked "$venv/bin/python" -m pytest -q -p no:cacheprovider --basetemp "$scratch/tmp$version" "${quick[@]}" \
        >"$scratch/quick$version.log" 2>&1 ) &
    started+=("$version:$!")
  done
  echo "quick suite on $(python --version)"
  checked python -m pytest "${quick[@]}" || status=$?
  for entry in ${started[@]+"${started[@]}"}; do
    version=${entry%%:*}
    code=0
    wait "${entry#*:}" || code=$?
    echo "quick suite on Python $version (exit status $code):"
    cat "$scratch/quick$version.log"
    [ "$code" -eq 0 ] || status=$code
  done
  # The integration tests in two halves side by side (each keeps one CPU busy about half the time:
  # training subprocesses, installs, waits), sharing one cache of isolated environments (a build holds
  # a lock the other half waits on). The first half's log is printed when both are done.
  export DLPICK_TEST_ENVS="${DLPICK_TEST_ENVS:-$scratch/envs}"
  first=(tests/test_templates_integration.py tests/test_resume.py tests/test_multiprocess.py)
  others=()
  for file in "${first[@]}"; do others+=(--ignore "$file"); done
  echo "integration tests on $(python --version), in two halves side by side: ${first[*]}; the rest"
  ( checked python -m pytest -m "integration or needs_index" --basetemp "$scratch/tmp-first" "${first[@]}" \
      >"$scratch/first.log" 2>&1 ) &
  half=$!
  checked python -m pytest -m "integration or needs_index" "${others[@]}" || status=$?
  code=0
  wait "$half" || code=$?
  echo "integration tests, first half (exit status $code):"
  cat "$scratch/first.log"
  [ "$code" -eq 0 ] || status=$code
else
  checked python -m pytest "$@" || status=$?
fi
exit "$status"
