#!/usr/bin/env bash
# Stop what start-slurm.sh started, by PID. Cancels remaining jobs first so no job processes
# are left behind. Usage: stop-slurm.sh [DAEMON...] (default: all of them, slurmd first).
set -uo pipefail

STATE_DIR=${SLURM_STATE_DIR:-/tmp/hipercow-slurm}
PIDS_FILE=$STATE_DIR/pids
log() { echo "[stop-slurm] $*"; }

# name -> pid: the list written by start-slurm.sh (the latest line wins), else the pid files.
declare -A PID
if [ -s "$PIDS_FILE" ]; then
    while read -r name pid; do [ -n "$name" ] && PID[$name]=$pid; done < "$PIDS_FILE"
fi
for pair in slurmd:/run/slurmd.pid slurmctld:/run/slurmctld.pid slurmdbd:/run/slurmdbd.pid \
            mariadbd:/run/mysqld/mysqld.pid munged:/run/munge/munged.pid; do
    name=${pair%%:*} f=${pair#*:}
    if [ -s "$f" ]; then PID[$name]=$(cat "$f"); fi
done

# Is $2 a live process whose executable is $1? (guards against a reused PID)
is_ours() {
    local exe
    exe=$(readlink "/proc/$2/exe" 2>/dev/null) || return 1
    exe=$(basename "${exe% (deleted)}")
    [ "${exe%-wlm}" = "$1" ]   # Debian names them slurmctld-wlm / slurmd-wlm
}

stop_pid() {   # name pid
    local name=$1 pid=$2 i
    if ! is_ours "$name" "$pid"; then log "$name ($pid) is not running"; return 0; fi
    kill -TERM "$pid"
    for ((i = 0; i < 200; i++)); do is_ours "$name" "$pid" || break; sleep 0.1; done
    if is_ours "$name" "$pid"; then
        log "$name ($pid) ignored SIGTERM for 20s, sending SIGKILL"
        kill -KILL "$pid"; sleep 0.5
    fi
    log "$name ($pid) stopped"
}

if [ $# -gt 0 ]; then
    for name in "$@"; do
        [ -n "${PID[$name]:-}" ] && stop_pid "$name" "${PID[$name]}"
    done
    exit 0
fi

# Everything: cancel every job while slurmctld is up, and wait for the jobs to end.
if [ -n "${PID[slurmctld]:-}" ] && is_ours slurmctld "${PID[slurmctld]}"; then
    jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        log "cancelling jobs: $jobs"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null
        for ((i = 0; i < 150; i++)); do
            [ -z "$(squeue -h -t PD,R,CG,S -o '%A' 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
fi
for name in slurmd slurmctld slurmdbd mariadbd munged; do
    [ -n "${PID[$name]:-}" ] && stop_pid "$name" "${PID[$name]}"
done
rm -f "$PIDS_FILE"
exit 0
