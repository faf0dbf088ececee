#!/usr/bin/env bash
# Install what the tests need, then run the whole suite, integration tests included (they render
# every template, smoke-train it, check its exports and run its own tests: about 6 minutes on 2 CPUs).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not integration" -x` for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
pip_install() { python -m pip install --quiet --disable-pip-version-check "$@"; }
# The CPU build of PyTorch first: the ranges below then install no other (multi-GB CUDA) build.
pip_install "torch==2.13.0"
pip_install -e ".[test,torch,tensorflow-cpu]"
# Debian's Chromium renders the HTML decision record in a real browser in tests/test_report.py.
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
status=0
python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
