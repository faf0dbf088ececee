#!/usr/bin/env bash
# Install what the tests need, then run the whole suite, integration tests included (they render
# every template, smoke-train it, check its exports and run its own tests; the frameworks with old
# or conflicting pins are verified in isolated environments built from the projects' own files).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not integration" -x` for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
pip_install() { python -m pip install --quiet --disable-pip-version-check "$@"; }
# The CPU build of PyTorch first: the ranges below then install no other (multi-GB CUDA) build.
pip_install "torch==2.13.0"
pip_install -e ".[test,torch,tensorflow-cpu]"
# Debian packages: Chromium renders the HTML decision record in a real browser (tests/test_report.py);
# debootstrap builds the Debian bullseye root the Caffe template is verified in; g++ compiles the
# Theano and PyTensor graphs.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v g++ >/dev/null || missing+=(g++)
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
status=0
python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
