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
# the workbench asks for a sign-in: keep one admin key for this data folder (readable by this user only)
KEYFILE="$TECHMATCH_DATA_DIR/workbench-admin-key.txt"
if [ ! -s "$KEYFILE" ]; then
  (umask 077 && techmatch keys create --role admin --org "演示平台管理员" > "$KEYFILE")
fi
techmatch serve --host "${TECHMATCH_HOST:-127.0.0.1}" --port "${API_PORT:-8000}" &
api=$!
trap 'kill "$api" 2>/dev/null || true' EXIT INT TERM
echo "API: http://127.0.0.1:${API_PORT:-8000}/docs   workbench: http://127.0.0.1:${UI_PORT:-8501}"
echo "workbench sign-in key (admin, also in $KEYFILE): $(cat "$KEYFILE")"
techmatch ui --host "${TECHMATCH_HOST:-127.0.0.1}" --port "${UI_PORT:-8501}"
