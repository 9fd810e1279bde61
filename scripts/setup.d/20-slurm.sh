#!/usr/bin/env bash
# Install and start the project's single-node Slurm for the tests marked `slurm`.
# Set HIPERCOW_SKIP_SLURM=1 to leave Slurm alone (those tests are then skipped).
set -euo pipefail
[ "${HIPERCOW_SKIP_SLURM:-0}" = 1 ] && { echo "[setup] HIPERCOW_SKIP_SLURM=1: not starting Slurm"; exit 0; }
exec bash "$(dirname "$0")/../start-slurm.sh"
