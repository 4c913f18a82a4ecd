#!/usr/bin/env bash
# Set techmatch up on a fresh machine and run it on its embedded defaults:
# SQLite catalogue + FAISS index + bundled e5-small encoder + the demo catalogue,
# the HTTP API on :8000 and the broker workbench on :8501.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
python -m pip install -q -e .
export TECHMATCH_DATA_DIR=${TECHMATCH_DATA_DIR:-techmatch-data}
techmatch demo --if-empty
techmatch serve --host "${TECHMATCH_HOST:-127.0.0.1}" --port "${API_PORT:-8000}" &
api=$!
trap 'kill "$api" 2>/dev/null || true' EXIT INT TERM
echo "API: http://127.0.0.1:${API_PORT:-8000}/docs   workbench: http://127.0.0.1:${UI_PORT:-8501}"
techmatch ui --host "${TECHMATCH_HOST:-127.0.0.1}" --port "${UI_PORT:-8501}"
