#!/usr/bin/env bash
# Stop the test cluster's sshd that start-sshd.sh started (by the pid it recorded), and with
# it the connections open to it; the account hpc, its venv and the keys are kept.
set -euo pipefail
PID_FILE=/tmp/hipercow-sshd/pid
log() { echo "[stop-sshd] $*"; }
pid=$(cat "$PID_FILE" 2>/dev/null || true)
if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != sshd ]; then
    log "sshd is not running"
    rm -f "$PID_FILE"
    exit 0
fi
# its per-connection processes, then the listener
children=$(pgrep -P "$pid" || true)
kill "$pid" $children 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$PID_FILE"
log "stopped sshd (pid $pid) and its $(echo $children | wc -w) connection(s)"
