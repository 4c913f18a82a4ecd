#!/usr/bin/env bash
# Debian's PostgreSQL server binaries for the store tests (the tests start their own throwaway server with
# initdb/pg_ctl in a temporary folder; nothing is left running). Skipped when already installed.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "not root: cannot apt-get install postgresql"; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
# Debian starts a cluster of its own on install where it can; the tests do not use it
service postgresql stop >/dev/null 2>&1 || true
ls /usr/lib/postgresql/*/bin/initdb
