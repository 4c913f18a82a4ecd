#!/usr/bin/env bash
# Debian's Chromium for the end-to-end browser test (skipped cleanly when it is absent).
set -euo pipefail
# Also CJK fonts, so the screenshots show Chinese rather than empty boxes.
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "cjk\|wqy"; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "not root: cannot apt-get install chromium"; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
/usr/bin/chromium --version
