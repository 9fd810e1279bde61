#!/usr/bin/env bash
# Refresh the pictures README.md and docs/ show (docs/images/*.png) from the browser tests
# that take them, in a real JupyterLab and Chromium: each picture docs/images/NAME-light.png
# is screenshots/NAME-light.png, saved by the test that calls screenshots(page, "NAME").
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t pictures < <(grep -ohE 'images/[a-z0-9-]+\.png' README.md docs/*.md | sort -u)
tests=()
for picture in "${pictures[@]}"; do
  name=$(basename "$picture" .png)
  name=${name%-light}
  name=${name%-dark}
  found=$(grep -lF "\"$name\"" tests/browser/test_*.py || true)
  if [ -z "$found" ]; then
    echo "No browser test takes the screenshot '$name' (for $picture)" >&2
    exit 1
  fi
  tests+=($found)
done
mapfile -t tests < <(printf '%s\n' "${tests[@]}" | sort -u)

echo "Running ${tests[*]}"
python -m pytest -q "${tests[@]}"
for picture in "${pictures[@]}"; do
  cp "screenshots/$(basename "$picture")" "docs/$picture"
  echo "Updated docs/$picture"
done
