#!/usr/bin/env bash
# Start a "cluster behind SSH" on this machine for the remote-root tests and for trying remote
# roots: an OpenSSH server of its own on 127.0.0.1:2222 (not the system's sshd), a cluster
# account `hpc` whose home /home/hpc plays the cluster's filesystem, a Python venv for it with
# this checkout installed, and the alias `hipercow-cluster` in root's ~/.ssh/config.
# Runs as root, without systemd. Idempotent: a running sshd is left alone (sent SIGHUP when its
# configuration changed); the copy of the package in the venv is refreshed on every run.
#
#   ssh hipercow-cluster python3 -c 'import hipercow_magic'   # what the alias gives
#
# Files: /etc/hipercow-sshd/ (server configuration and host key), /var/log/hipercow-sshd.log
# (LogLevel VERBOSE: one "Accepted publickey for hpc" line per authentication),
# /tmp/hipercow-sshd/pid (the listener's pid), /root/.ssh/hipercow_cluster_ed25519 (the client
# key), /root/.ssh/hipercow_cluster_known_hosts (the server's key, pre-accepted).
set -euo pipefail

PORT=2222
CLUSTER_USER=hpc
ALIAS=hipercow-cluster
CONF_DIR=/etc/hipercow-sshd
STATE_DIR=/tmp/hipercow-sshd
LOG_FILE=/var/log/hipercow-sshd.log
PID_FILE=$STATE_DIR/pid
CLIENT_KEY=/root/.ssh/hipercow_cluster_ed25519
KNOWN_HOSTS=/root/.ssh/hipercow_cluster_known_hosts
HOME_DIR=/home/$CLUSTER_USER
VENV=$HOME_DIR/venv
PYTHON=/usr/bin/python3.11
SOURCE=$(cd "$(dirname "$0")/.." && pwd)

log() { echo "[start-sshd] $*"; }
die() { echo "[start-sshd] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it adds a user and starts sshd directly)"
alive_pid() { [ -s "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = sshd ]; }
as_user() { runuser -u "$CLUSTER_USER" -- "$@"; }
# put TEXT FILE OWNER: make FILE (mode 0600) hold TEXT, replaced at once when it differs
# (connections starting meanwhile read the old file or the new one, never half of it).
put() {
    [ "$(cat "$2" 2>/dev/null)" = "$1" ] && return 0
    printf '%s\n' "$1" > "$2.new"
    chown "$3:$3" "$2.new"
    chmod 600 "$2.new"
    mv "$2.new" "$2"
}
# replace_block FILE TEXT: put TEXT between "# BEGIN/END hipercow-cluster" lines at the top of
# FILE, replacing the block an earlier run wrote (at the top: ssh takes the first value it sees).
replace_block() {
    local file=$1 text=$2 rest=""
    [ -e "$file" ] && rest=$(sed '/^# BEGIN hipercow-cluster$/,/^# END hipercow-cluster$/d' "$file")
    printf '# BEGIN hipercow-cluster\n%s\n# END hipercow-cluster\n%s\n' "$text" "$rest" > "$file.new"
    mv "$file.new" "$file"
}

# ---------------------------------------------------------------- packages
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v rsync >/dev/null || missing+=(rsync)
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
fi

# ---------------------------------------------------------------- the cluster account
if ! id "$CLUSTER_USER" >/dev/null 2>&1; then
    log "adding the user $CLUSTER_USER"
    useradd -m -s /bin/bash "$CLUSTER_USER"
fi
# No password, but not locked ('!'): sshd without PAM refuses locked accounts.
usermod -p '*' "$CLUSTER_USER"

# ---------------------------------------------------------------- keys
install -d -m 0755 "$CONF_DIR" /run/sshd
install -d -m 0700 "$STATE_DIR" /root/.ssh
[ -s "$CONF_DIR/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "$ALIAS host key" -f "$CONF_DIR/ssh_host_ed25519_key"
chmod 600 "$CONF_DIR/ssh_host_ed25519_key"
[ -s "$CLIENT_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C "root for $ALIAS" -f "$CLIENT_KEY"
install -d -o "$CLUSTER_USER" -g "$CLUSTER_USER" -m 0700 "$HOME_DIR/.ssh"
put "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$CONF_DIR/ssh_host_ed25519_key.pub")" "$KNOWN_HOSTS" root
put "$(cat "$CLIENT_KEY.pub")" "$HOME_DIR/.ssh/authorized_keys" "$CLUSTER_USER"

# ---------------------------------------------------------------- the alias in root's config
touch /root/.ssh/config
replace_block /root/.ssh/config "Host $ALIAS
    HostName 127.0.0.1
    Port $PORT
    User $CLUSTER_USER
    IdentityFile $CLIENT_KEY
    IdentitiesOnly yes
    UserKnownHostsFile $KNOWN_HOSTS
    StrictHostKeyChecking yes"
chmod 600 /root/.ssh/config

# ---------------------------------------------------------------- the venv, with this checkout
if ! "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    log "creating $VENV"
    rm -rf "$VENV"
    as_user "$PYTHON" -m venv "$VENV"
fi
# The package's runtime dependencies; cloudpickle at the client's version when it has one
# (a pickle made by one version must load on the other side).
requirements=$("$PYTHON" - "$SOURCE/pyproject.toml" <<'EOF'
import sys, tomllib
for dep in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]:
    print(dep)
EOF
)
client_cloudpickle=$(python3 -c 'import cloudpickle; print(cloudpickle.__version__)' 2>/dev/null || true)
[ -n "$client_cloudpickle" ] && requirements+=$'\n'"cloudpickle==$client_cloudpickle"
# numpy too (at the client's version when it has one, else the newest, as the tests' extras
# will get), as a cluster environment has the user's libraries: the tests send arrays
client_numpy=$(python3 -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
requirements+=$'\n'"numpy${client_numpy:+==$client_numpy}"
stamp=$VENV/.hipercow-requirements
if [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
    log "installing the package's dependencies into $VENV"
    # root's pip (and its configuration: indexes, wheels on disk) installs them; hpc owns the venv.
    printf '%s\n' "$requirements" > "$STATE_DIR/requirements.txt"
    "$VENV/bin/python" -m pip install -q --root-user-action=ignore -r "$STATE_DIR/requirements.txt"
    printf '%s\n' "$requirements" > "$stamp"
    chown -R "$CLUSTER_USER:$CLUSTER_USER" "$VENV"
fi
# The package as in this checkout (pure Python; the JupyterLab extension's files are not needed
# on a cluster): only changed files are replaced, each at once, so commands running there go on.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rsync -rlt --delete --chown="$CLUSTER_USER:$CLUSTER_USER" --exclude=labextension \
    --exclude=__pycache__ "$SOURCE/hipercow_magic/" "$site/hipercow_magic/"
# ... with the metadata of an installed distribution (its version, entry points).
"$PYTHON" - "$SOURCE" "$site" <<'EOF'
import pathlib, shutil, sys, tomllib
source, site = map(pathlib.Path, sys.argv[1:])
project = tomllib.load(open(source / "pyproject.toml", "rb"))["project"]
version = {}
exec((source / "hipercow_magic" / "_version.py").read_text(), version)
info = site / f"hipercow_magic-{version['__version__']}.dist-info"
for old in site.glob("hipercow_magic-*.dist-info"):
    if old != info:
        shutil.rmtree(old)
info.mkdir(exist_ok=True)
requires = "".join(f"Requires-Dist: {dep}\n" for dep in project["dependencies"])
groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
files = {
    "METADATA": f"Metadata-Version: 2.1\nName: {project['name']}\n"
    f"Version: {version['__version__']}\n{requires}",
    "entry_points.txt": "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()) + "\n"
        for group, points in groups.items()
    ),
    "INSTALLER": "hipercow start-sshd.sh\n",
}
for name, text in files.items():
    path = info / name
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
EOF
chown -R "$CLUSTER_USER:$CLUSTER_USER" "$site"/hipercow_magic-*.dist-info

# The venv first on PATH for every shell, also the non-interactive ones ssh runs commands in
# (above .bashrc's "not interactive: return" line; .profile of login shells reads .bashrc).
[ -e "$HOME_DIR/.bashrc" ] || cp /etc/skel/.bashrc "$HOME_DIR/.bashrc"
replace_block "$HOME_DIR/.bashrc" "case \":\$PATH:\" in *\":$VENV/bin:\"*) ;; *) PATH=\"$VENV/bin:\$PATH\" ;; esac
export PATH"
chown "$CLUSTER_USER:$CLUSTER_USER" "$HOME_DIR/.bashrc"

# ---------------------------------------------------------------- sshd
cat > "$CONF_DIR/sshd_config.new" <<EOF
# Written by hipercow-magic's scripts/start-sshd.sh: the test cluster's own sshd.
Port $PORT
ListenAddress 127.0.0.1
HostKey $CONF_DIR/ssh_host_ed25519_key
PidFile $PID_FILE
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin no
UsePAM no
LogLevel VERBOSE
MaxSessions 10
PrintMotd no
Subsystem sftp internal-sftp
EOF
/usr/sbin/sshd -t -f "$CONF_DIR/sshd_config.new" || die "sshd rejects $CONF_DIR/sshd_config.new"
changed=0
cmp -s "$CONF_DIR/sshd_config.new" "$CONF_DIR/sshd_config" || changed=1
mv "$CONF_DIR/sshd_config.new" "$CONF_DIR/sshd_config"
if alive_pid "$PID_FILE"; then
    if [ "$changed" = 1 ]; then
        log "configuration changed: sshd (pid $(cat "$PID_FILE")) rereads it"
        kill -HUP "$(cat "$PID_FILE")"
        sleep 0.5
    else
        log "sshd is running, pid $(cat "$PID_FILE")"
    fi
else
    rm -f "$PID_FILE"
    /usr/sbin/sshd -f "$CONF_DIR/sshd_config" -E "$LOG_FILE"
    for _ in $(seq 50); do alive_pid "$PID_FILE" && break; sleep 0.1; done
    alive_pid "$PID_FILE" || die "sshd did not start (see $LOG_FILE)"
    log "sshd started on 127.0.0.1:$PORT, pid $(cat "$PID_FILE")"
fi

# ---------------------------------------------------------------- check: the alias, the venv
out=$(ssh -o BatchMode=yes -o ControlPath=none "$ALIAS" \
    python3 -c "'import hipercow_magic, sys; print(sys.prefix)'" 2>&1) ||
    die "ssh $ALIAS failed: $out (see $LOG_FILE)"
[ "$out" = "$VENV" ] || die "python3 over ssh is $out, not the venv's ($VENV)"
log "ssh $ALIAS runs $VENV/bin/python3 with hipercow_magic; log: $LOG_FILE"
