#!/usr/bin/env bash
# Install what the tests need, then run the whole suite (integration tests included).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not integration" -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
status=0
python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
