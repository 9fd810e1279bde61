#!/usr/bin/env bash
# Install and start the project's single-node Slurm for the tests marked `slurm`, with its
# accounting database (mariadb + slurmdbd), so sacct reports what each job used.
# Set HIPERCOW_SKIP_SLURM=1 to leave Slurm alone (those tests are then skipped).
set -euo pipefail
[ "${HIPERCOW_SKIP_SLURM:-0}" = 1 ] && { echo "[setup] HIPERCOW_SKIP_SLURM=1: not starting Slurm"; exit 0; }
SLURM_WITH_DBD=${SLURM_WITH_DBD:-1} exec bash "$(dirname "$0")/../start-slurm.sh"
