#!/usr/bin/env bash
# Chromium (Debian's, driven by Python playwright) and Node/npm (to build the JupyterLab extension).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm > /dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-liberation > /dev/null
fi
/usr/bin/chromium --version 2> /dev/null
node --version
