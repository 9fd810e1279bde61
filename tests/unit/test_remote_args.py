"""The options of a cluster reached over SSH and the `remote` commands, in the `hipercow`
command and the `%hipercow` magic: their values reach the api functions, the bad
combinations are refused clearly before anything is done, and the api picks the root's
remote driver (or says which to pass).
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest
from IPython.core.error import UsageError

from hipercow_magic import api
from hipercow_magic.api import remote
from hipercow_magic.cli.args import remote as remote_args
from hipercow_magic.cli.main import main
from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import init_root

SSH_WORDS = [
    "--ssh",
    "hipercow-cluster",
    "--remote-root",
    "~/projects/flu",
    "--remote-python",
    "/opt/py311/bin/python3",
    "--ssh-config",
    "cluster.conf",
]
SSH_OPTIONS = {
    "ssh": "hipercow-cluster",
    "remote_root": "~/projects/flu",
    "remote_python": "/opt/py311/bin/python3",
    "ssh_config": "cluster.conf",
}


@pytest.fixture
def calls(monkeypatch):
    """What the api functions the front ends call were called with (nothing else runs)."""
    seen = []

    def recorder(name):
        def record(*args, **kwargs):
            seen.append((name, args, kwargs))

        return record

    for name in ("hipercow_init", "hipercow_configure"):
        monkeypatch.setattr(api, name, recorder(name))
    for name in (
        "hipercow_remote_install",
        "hipercow_remote_connect",
        "hipercow_remote_disconnect",
        "hipercow_remote_status",
    ):
        monkeypatch.setattr(remote_args, name, recorder(name))
    return seen


def cli(*words) -> tuple[int, str]:
    """Run `hipercow WORDS...` in this process: its exit status and what it wrote to stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            status = main(list(words))
        except SystemExit as e:  # argparse's usage errors
            status = e.code
    return status, err.getvalue()


def magic(ip, line: str):
    return ip.run_line_magic("hipercow", line)


# ---- init and configure ---------------------------------------------------------------------
def test_init_passes_the_ssh_options_in_both_front_ends(calls, ip):
    assert cli("init", "flu", "--driver", "slurm", *SSH_WORDS) == (0, "")
    magic(ip, "init flu --driver slurm " + " ".join(SSH_WORDS))
    expected = ("hipercow_init", ("flu",), {"driver": "slurm", **SSH_OPTIONS})
    assert calls == [expected, expected]


def test_init_without_ssh_passes_no_ssh_options(calls):
    assert cli("init", ".", "--driver", "local", "--cluster", "example")[0] == 0
    assert calls == [("hipercow_init", (".",), {"driver": "local", "cluster": "example"})]


def test_configure_takes_ssh_flags_beside_key_value_options(calls, ip):
    words = "slurm partition=fast --ssh hipercow-cluster --remote-root /home/hpc/flu"
    assert cli("configure", *words.split()) == (0, "")
    magic(ip, "configure " + words)
    expected = (
        "hipercow_configure",
        ("slurm",),
        {"partition": "fast", "ssh": "hipercow-cluster", "remote_root": "/home/hpc/flu"},
    )
    assert calls == [expected, expected]


def test_configure_takes_the_ssh_options_as_key_value_too(calls):
    assert cli("configure", "local", "ssh=hipercow-cluster", "--remote-root", "lab/flu")[0] == 0
    assert calls[0][2] == {"ssh": "hipercow-cluster", "remote_root": "lab/flu"}


@pytest.mark.parametrize(
    "words, message",
    [
        (["--ssh", "hipercow-cluster"], "--ssh also needs --remote-root PATH"),
        (["--remote-root", "~/flu"], "--remote-root also needs --ssh DEST"),
        (
            ["--remote-python", "python3.11"],
            "--remote-python also needs --ssh DEST and --remote-root PATH",
        ),
        (
            ["--ssh", "c", "--ssh-config", "f"],
            "--ssh and --ssh-config also need --remote-root PATH",
        ),
    ],
)
def test_half_an_ssh_configuration_is_refused_before_anything_runs(calls, ip, words, message):
    for command in (["init", ".", "--driver", "slurm"], ["configure", "slurm"]):
        status, err = cli(*command, *words)
        assert status == 1 and message in err and "--ssh mycluster --remote-root" in err
        with pytest.raises(UsageError, match=message):
            magic(ip, " ".join([*command, *words]))
    assert calls == []


def test_init_with_ssh_but_no_driver_says_to_name_one(calls, ip):
    words = ["init", ".", "--ssh", "c", "--remote-root", "flu"]
    status, err = cli(*words)
    assert status == 1 and "--ssh needs --driver" in err
    with pytest.raises(UsageError, match="--ssh needs --driver"):
        magic(ip, " ".join(words))
    assert calls == []


def test_the_same_option_given_two_ways_must_agree(calls):
    status, err = cli("configure", "slurm", "ssh=a", "--ssh", "b", "--remote-root", "r")
    assert status == 1 and "ssh is given twice: 'a' and --ssh 'b'" in err
    assert cli("configure", "slurm", "ssh=a", "--ssh", "a", "--remote-root", "r")[0] == 0
    assert calls == [("hipercow_configure", ("slurm",), {"ssh": "a", "remote_root": "r"})]


# ---- hipercow remote ... ---------------------------------------------------------------------
def test_remote_install_passes_its_options_in_both_front_ends(calls, ip):
    assert cli("remote", "install", *SSH_WORDS) == (0, "")
    magic(ip, "remote install " + " ".join(SSH_WORDS))
    expected = (
        "hipercow_remote_install",
        ("hipercow-cluster", "~/projects/flu"),
        {"ssh_config": "cluster.conf", "python": "/opt/py311/bin/python3"},
    )
    assert calls == [expected, expected]


def test_remote_install_needs_where_to_install(calls, ip):
    status, err = cli("remote", "install", "--ssh", "hipercow-cluster")
    assert status == 2 and "the following arguments are required: --remote-root" in err
    with pytest.raises(UsageError, match="required: --ssh, --remote-root"):
        magic(ip, "remote install")
    assert calls == []


@pytest.mark.parametrize("action", ["connect", "disconnect", "status"])
def test_remote_actions_pass_the_driver(calls, ip, action):
    assert cli("remote", action) == (0, "")
    magic(ip, f"remote {action} --driver slurm")
    name = f"hipercow_remote_{action}"
    assert calls == [(name, (), {"driver": None}), (name, (), {"driver": "slurm"})]


def test_remote_needs_an_action(calls, ip):
    status, err = cli("remote")
    assert status == 2 and "required: ACTION" in err
    status, err = cli("remote", "reconnect")
    assert status == 2 and "invalid choice: 'reconnect'" in err
    with pytest.raises(UsageError, match="required: ACTION"):
        magic(ip, "remote")
    assert calls == []


# ---- which driver is remote -------------------------------------------------------------------
def configure_on_disk(root, name: str, remote_part: dict | None) -> None:
    """A driver's saved configuration, remote (in the layout a remote driver saves) or not."""
    config = {"python": "python3"}
    if remote_part is not None:
        config = {"remote": remote_part, "inner": config}
    os.makedirs(os.path.dirname(root.config_path(name)), exist_ok=True)
    store.write_json(root.config_path(name), config)


REMOTE = {
    "ssh": "hipercow-cluster",
    "remote_root": "/home/hpc/projects/flu",
    "remote_python": "/home/hpc/venv/bin/python3",
    "ssh_config": None,
}


@pytest.fixture
def plain_root(tmp_path):
    root, _ = init_root(str(tmp_path))
    return root


def test_the_one_remote_driver_is_picked(plain_root):
    configure_on_disk(plain_root, "local", None)
    configure_on_disk(plain_root, "slurm", REMOTE)
    assert remote.remote_driver(plain_root) == "slurm"
    assert remote.remote_driver(plain_root, "slurm") == "slurm"
    with pytest.raises(HipercowError, match="'local' of this root does not reach a cluster"):
        remote.remote_driver(plain_root, "local")


def test_no_remote_driver_says_how_to_configure_one(plain_root):
    configure_on_disk(plain_root, "local", None)
    with pytest.raises(HipercowError, match="No driver of this root reaches a cluster over SSH"):
        remote.remote_driver(plain_root)


def test_several_remote_drivers_say_which_to_pass(plain_root):
    configure_on_disk(plain_root, "local", REMOTE)
    configure_on_disk(plain_root, "slurm", REMOTE)
    with pytest.raises(HipercowError, match=r"'local', 'slurm'\nSay which with driver="):
        remote.remote_driver(plain_root)


def test_status_shows_where_and_what_differs(plain_root, monkeypatch, capsys):
    configure_on_disk(plain_root, "slurm", REMOTE)
    found = {
        **REMOTE,
        "connected": True,
        "versions": {"python": "3.9.2", "hipercow_magic": "0.0.1"},
        "problem": "hipercow-magic 0.0.1 there: run 'hipercow remote install'",
    }
    monkeypatch.setattr(remote, "describe", lambda root, name: dict(found))
    info = api.hipercow_remote_status(root=plain_root)
    out = capsys.readouterr().out
    assert info["driver"] == "slurm" and info["connected"] is True
    assert "  • ssh: hipercow-cluster\n  • remote root: /home/hpc/projects/flu\n" in out
    assert "  • connection: open\n" in out
    assert "  • python there: 3.9.2 (here: 3." in out
    assert "! hipercow-magic 0.0.1 there: run 'hipercow remote install'" in out


def test_configuration_shows_the_ssh_destination_and_remote_root(plain_root, capsys):
    configure_on_disk(plain_root, "slurm", REMOTE)
    api.hipercow_configuration(root=plain_root)
    out = capsys.readouterr().out
    assert "  • driver 'slurm', over SSH to hipercow-cluster:\n" in out
    assert "      remote root: /home/hpc/projects/flu\n" in out
    assert "      python: python3\n" in out and "inner" not in out
