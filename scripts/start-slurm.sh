#!/usr/bin/env bash
# Start a single-machine Slurm (Debian's slurmctld, slurmd and munge) for trying the slurm
# driver and for the project's tests. Runs as root, without systemd. Idempotent: daemons that
# are already up are left alone, ones that died are started again with the same slurm.conf
# (stop-slurm.sh first to apply new settings). PIDs are recorded in $SLURM_STATE_DIR/pids.
#
# Settings (environment variables):
#   SLURM_NODE_CPUS      CPUs the node advertises                    (default 4)
#   SLURM_NODE_MEM       memory in MB the node advertises             (default 16000)
#   SLURM_MIN_JOB_AGE    seconds finished jobs stay in squeue/scontrol (default 300)
#   SLURM_WITH_DBD       1 = also run mariadb + slurmdbd so plain `sacct` works, with each
#                        job's CPU time and peak memory (default 0; without it finished jobs
#                        are read from the jobcomp file by `sacct -c`)
#   SLURM_ACCT_FREQ      seconds between readings of a running job's CPU and memory (default 1;
#                        sstat and sacct report them, and a step past its memory is killed)
#   SLURM_NODE_GPUS      GPUs the node declares (gres gpu, default 2; 0 = none); they are
#                        stand-in device files, so jobs get CUDA_VISIBLE_DEVICES but no GPU
#   SLURM_GPU_TYPE       the GPUs' type                               (default tesla)
#   SLURM_STATE_DIR      where the PID list is kept                   (default /tmp/hipercow-slurm)
#   SLURM_START_TIMEOUT  seconds to wait for the node to become idle  (default 60)
set -euo pipefail

NODE_CPUS=${SLURM_NODE_CPUS:-4}
NODE_MEM=${SLURM_NODE_MEM:-16000}
MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-300}
WITH_DBD=${SLURM_WITH_DBD:-0}
ACCT_FREQ=${SLURM_ACCT_FREQ:-1}
NODE_GPUS=${SLURM_NODE_GPUS:-2}
GPU_TYPE=${SLURM_GPU_TYPE:-tesla}
STATE_DIR=${SLURM_STATE_DIR:-/tmp/hipercow-slurm}
START_TIMEOUT=${SLURM_START_TIMEOUT:-60}
NODE=$(hostname -s)
PIDS_FILE=$STATE_DIR/pids

log() { echo "[start-slurm] $*"; }
die() { echo "[start-slurm] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (the daemons are started directly, without systemd)"
mkdir -p "$STATE_DIR"

# wait_pidfile FILE N: wait up to N tenths of a second for FILE to name a live process.
wait_pidfile() {
    local f=$1 n=$2 i
    for ((i = 0; i < n; i++)); do
        if [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}
alive_pidfile() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
record_pid() { echo "$1 $2" >> "$PIDS_FILE"; log "$1 started, pid $2"; }

# ---------------------------------------------------------------- packages
PKGS=(slurmctld slurmd slurm-client munge)
[ "$WITH_DBD" = 1 ] && PKGS+=(slurmdbd mariadb-server)
missing=()
for p in "${PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
fi

# ---------------------------------------------------------------- configuration
install -d -m 0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
if [ "$WITH_DBD" = 1 ]; then
    ACCOUNTING="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu"
else
    ACCOUNTING="AccountingStorageType=accounting_storage/none"
fi
if alive_pidfile /run/slurmctld.pid || alive_pidfile /run/slurmd.pid; then
    # Restarting one daemon keeps the cluster as it was; stop-slurm.sh first for new settings.
    log "Slurm is partly running: keeping /etc/slurm/slurm.conf as it is"
else

# GPUs: stand-in device files (Slurm numbers a job's GPUs from the files' names).
GRES_NODE="" GRES_TYPES=""
if [ "$NODE_GPUS" -gt 0 ]; then
    install -d -m 0755 "$STATE_DIR/gpus"
    for ((i = 0; i < NODE_GPUS; i++)); do
        # a character device like /dev/null where the container allows it, else a file
        [ -e "$STATE_DIR/gpus/gpu$i" ] || mknod -m 0666 "$STATE_DIR/gpus/gpu$i" c 1 3 \
            2>/dev/null || touch "$STATE_DIR/gpus/gpu$i"
    done
    GRES_NODE=" Gres=gpu:${GPU_TYPE}:${NODE_GPUS}"
    GRES_TYPES="GresTypes=gpu"
    echo "Name=gpu Type=${GPU_TYPE} File=${STATE_DIR}/gpus/gpu[0-$((NODE_GPUS - 1))]" \
        > /etc/slurm/gres.conf
else
    rm -f /etc/slurm/gres.conf
fi
cat > /etc/slurm/slurm.conf <<EOF
# Written by hipercow-magic's scripts/start-slurm.sh: one node, no cgroups, no systemd.
ClusterName=hipercow
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ReturnToService=2

# Containers without systemd: no cgroup plugins.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none

# Accounting; finished jobs always go to a text file too (read with sacct -c).
${ACCOUNTING}
# Each job's CPU time and memory, read every ${ACCT_FREQ} s (sstat, sacct); memory is the
# processes' PSS (pages a pool of forked workers shares count once). Without cgroups this is
# also what enforces memory: a step past its request is killed (state FAILED, its output
# saying "Exceeded job memory limit"; with cgroups Slurm says OUT_OF_MEMORY).
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=${ACCT_FREQ}
JobAcctGatherParams=OverMemoryKill,UsePss
${GRES_TYPES}
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log

# Consumable CPUs and memory; schedule at once.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0,bf_interval=1,sched_interval=5
# Impossible requests fail at sbatch instead of pending forever.
EnforcePartLimits=ALL
MinJobAge=${MIN_JOB_AGE}
MaxJobCount=20000
KillWait=5
OverTimeLimit=0
InactiveLimit=0
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=30

# Believe this file about the node's size (it may advertise more than the machine has).
SlurmdParameters=config_overrides

NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${NODE_CPUS} Boards=1 SocketsPerBoard=1 CoresPerSocket=${NODE_CPUS} ThreadsPerCore=1 RealMemory=${NODE_MEM}${GRES_NODE} State=UNKNOWN
PartitionName=alltasks Nodes=ALL Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=1000
PartitionName=bigmem   Nodes=ALL Default=NO  MaxTime=INFINITE State=UP DefMemPerCPU=4000
PartitionName=fast     Nodes=ALL Default=NO  MaxTime=60       State=UP DefMemPerCPU=1000
EOF
fi

# ---------------------------------------------------------------- munge
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
    log "creating the munge key"
    mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged is running"
else
    rm -f /run/munge/munged.pid
    setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged
    wait_pidfile /run/munge/munged.pid 50 || die "munged did not start (see /var/log/munge/munged.log)"
    record_pid munged "$(cat /run/munge/munged.pid)"
    munge -n | unmunge >/dev/null || die "munge round trip failed"
fi

# ---------------------------------------------------------------- accounting database (optional)
if [ "$WITH_DBD" = 1 ]; then
    if mariadb-admin ping >/dev/null 2>&1; then
        log "mariadb is running"
    else
        install -d -o mysql -g root -m 0755 /run/mysqld
        rm -f /run/mysqld/mysqld.pid
        setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
            --socket=/run/mysqld/mysqld.sock --bind-address=127.0.0.1 \
            </dev/null >>/var/log/slurm/mariadb.log 2>&1 &
        dbpid=$!
        for _ in $(seq 150); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.2; done
        mariadb-admin ping >/dev/null 2>&1 || die "mariadb did not start (see /var/log/slurm/mariadb.log)"
        record_pid mariadbd "$dbpid"
    fi
    mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
                GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
    cat > /etc/slurm/slurmdbd.conf <<'EOF'
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
    chmod 600 /etc/slurm/slurmdbd.conf
    if alive_pidfile /run/slurmdbd.pid; then
        log "slurmdbd is running"
    else
        rm -f /run/slurmdbd.pid
        /usr/sbin/slurmdbd
        wait_pidfile /run/slurmdbd.pid 100 || die "slurmdbd did not start (see /var/log/slurm/slurmdbd.log)"
        record_pid slurmdbd "$(cat /run/slurmdbd.pid)"
        for _ in $(seq 100); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
    fi
fi

# ---------------------------------------------------------------- slurm daemons
if alive_pidfile /run/slurmctld.pid; then
    log "slurmctld is running"
else
    rm -f /run/slurmctld.pid
    /usr/sbin/slurmctld
    wait_pidfile /run/slurmctld.pid 100 || die "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
    record_pid slurmctld "$(cat /run/slurmctld.pid)"
fi
if alive_pidfile /run/slurmd.pid; then
    log "slurmd is running"
else
    rm -f /run/slurmd.pid
    /usr/sbin/slurmd
    wait_pidfile /run/slurmd.pid 100 || die "slurmd did not start (see /var/log/slurm/slurmd.log)"
    record_pid slurmd "$(cat /run/slurmd.pid)"
fi

# ---------------------------------------------------------------- wait until the node takes jobs
deadline=$(( $(date +%s) + START_TIMEOUT ))
while :; do
    st=$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null | sort -u | head -n1 || true)
    case "$st" in idle|mixed|allocated) break ;; esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "[start-slurm] node $NODE is not ready after ${START_TIMEOUT}s (state '${st}')" >&2
        sinfo -R >&2 || true
        tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
        exit 1
    fi
    sleep 0.2
done
if [ "$WITH_DBD" = 1 ]; then
    for _ in $(seq 100); do
        [ "$(sacctmgr -n -P list cluster format=cluster 2>/dev/null)" = hipercow ] && break
        sleep 0.2
    done
fi
log "node $NODE is $st; PIDs are in $PIDS_FILE"
sinfo
