#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, starts the services they use, checks
# the code (lint, formatting, import layers), then runs the tests.
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
# The tools `.[test]` just installed, whatever PATH says.
tools="$(python -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
echo "== ruff check"
"$tools/ruff" check .
echo "== ruff format --check"
"$tools/ruff" format --check .
echo "== lint-imports (the layers in DESIGN.md; pyproject.toml [tool.importlinter])"
"$tools/lint-imports"
echo "== pytest"
python -m pytest -p no:cacheprovider "$@"
