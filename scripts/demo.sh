#!/usr/bin/env bash
# Installs hipercow-magic and runs the getting-started notebook on this machine's local driver.
# Usage: bash scripts/demo.sh [NOTEBOOK]   (default: demo_notebooks/getting-started.ipynb)
# The executed copy (with every output) is written to demo-output/ and its path printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
notebook="${1:-demo_notebooks/getting-started.ipynb}"

# Node/npm build the JupyterLab panel that `pip install` ships with the package.
if ! command -v npm > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm > /dev/null
fi
here="$PWD"
installed=$(cd / && python -c 'import hipercow_magic, nbclient, ipykernel, os
print(os.path.dirname(os.path.dirname(hipercow_magic.__file__)))' 2> /dev/null || true)
if [ "$installed" != "$here" ]; then
  python -m pip install -q -e . nbclient nbformat ipykernel
fi

out_dir="$PWD/demo-output"
mkdir -p "$out_dir"
printf '*\n' > "$out_dir/.gitignore"  # executed copies are outputs, not sources
python - "$notebook" "$out_dir" <<'PY'
import os
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

source, out_dir = sys.argv[1], sys.argv[2]
name = os.path.basename(source)
work = tempfile.mkdtemp(prefix="hipercow-demo-")  # the notebook's root: a fresh folder
notebook = nbformat.read(source, as_version=4)
client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                        resources={"metadata": {"path": work}})
try:
    client.execute()
finally:
    target = os.path.join(out_dir, name)
    nbformat.write(notebook, target)
errors = [c for c in notebook.cells if c.cell_type == "code" and any(
    o.get("output_type") == "error" for o in c.get("outputs", []))
    and "raises-exception" not in c.metadata.get("tags", [])]
print(f"Executed {source}: {sum(c.cell_type == 'code' for c in notebook.cells)} code cells, "
      f"{len(errors)} unexpected errors")
print(f"Executed copy: {target}")
print(f"The tasks' root: {work}")
sys.exit(1 if errors else 0)
PY
