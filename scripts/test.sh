#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, starts the services they use, runs them.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Each file in scripts/setup.d installs or starts one part (system packages, Slurm, a browser...).
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== $step"
  bash "$step"
done
python -m pip install -q -e '.[test]'
python -m pytest -p no:cacheprovider "$@"
