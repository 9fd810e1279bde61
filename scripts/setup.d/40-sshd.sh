#!/usr/bin/env bash
# Start the test cluster behind SSH (an sshd on 127.0.0.1:2222, the account `hpc` with this
# checkout in its venv, the alias `hipercow-cluster`) for the tests marked `remote`; it also
# refreshes the venv's copy of the package. Set HIPERCOW_SKIP_SSHD=1 to leave it alone (those
# tests are then skipped).
set -euo pipefail
[ "${HIPERCOW_SKIP_SSHD:-0}" = 1 ] && { echo "[setup] HIPERCOW_SKIP_SSHD=1: not starting sshd"; exit 0; }
exec bash "$(dirname "$0")/../start-sshd.sh"
