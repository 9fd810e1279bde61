"""The local driver behind SSH, on the project's test cluster (a real sshd on 127.0.0.1:2222,
the account `hpc` whose home plays the cluster's filesystem): tasks created here run there as
real processes of `hpc`'s, started by its own local scheduler, and their results, logs and
errors come back here. Also what the connection costs (logins, commands per poll), losing it,
and configurations that are refused.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import shutil
import subprocess
import time
import uuid
import warnings
from contextlib import redirect_stdout

import numpy as np
import psutil
import pytest
from far_side import (
    HOME,
    NODE,
    WAIT,
    Far,
    SshdLines,
    as_hpc,
    fresh_remote_root,
    init_root_there,
    remove_remote,
)
from processes import magic_shell, run_cli, wait_until

import hipercow_magic as hc
from hipercow_magic.core.errors import HipercowError, HipercowWarning
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.drivers.remote.driver import remote_folder
from hipercow_magic.drivers.remote.wire import digest

NOTEBOOK = """
def scale(a, b=2):
    print("scaling", a)
    return a * b
"""


def master_pid(root) -> int | None:
    """The pid of the root's master ssh connection (`ssh -O check`), None when none is open."""
    conn = load_driver(root, "local").connection
    out = subprocess.run(
        ["ssh", "-o", f"ControlPath={conn.control_path}", "-O", "check", conn.destination],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"pid=(\d+)", out.stderr)
    return int(found.group(1)) if found else None


def ended(task, timeout: float = WAIT) -> str:
    task.wait(timeout=timeout)
    return task.status()


# ---- the root of this module's tests --------------------------------------------------------
@pytest.fixture(scope="module")
def far(cluster, tmp_path_factory):
    """A root here whose local driver runs on the test cluster (one node, `far-node`, of 4
    cores), shared by the module's tests; afterwards the remote scheduler and its tasks are
    stopped, the connection closed and the remote root deleted.
    """
    path = tmp_path_factory.mktemp("remote_local")
    given, remote = fresh_remote_root()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIPERCOW_KEY_FILE", str(path.parent / f"{path.name}.key"))
        mp.chdir(path)
        root = init_root_there(path, cluster, given, NODE, cores=4, memory=8)
        try:
            yield Far(root, remote)
        finally:
            load_driver(root, "local").connection.close()
            remove_remote(remote)


@pytest.fixture
def here(far, monkeypatch):
    """Run the test from inside the module's root."""
    monkeypatch.chdir(far.path)
    return far


@pytest.fixture
def shell(here, ip, capsys):
    """The IPython shell with a clean namespace, in the module's root."""
    yield from magic_shell(ip, capsys, "auto")


def notebook() -> dict:
    """A notebook's namespace after a cell defined `scale` (so it travels by value)."""
    namespace = {"__name__": "__main__"}
    exec(compile(NOTEBOOK, "<cell 1>", "exec"), namespace)
    return namespace


# ---- tasks, run there -----------------------------------------------------------------------
def test_expression_call_and_bulk_run_as_the_cluster_user_there(here):
    task = hc.task_create_expr("import getpass, os\n(getpass.getuser(), os.getcwd())")
    assert ended(task) == "success"
    assert task.result() == ("hpc", str(here.remote))
    assert (here.there(task.id) / "status-success").exists()

    call = hc.task_create_call(notebook()["scale"], (3,), {"b": 5})
    assert ended(call) == "success"
    assert call.result() == 15
    assert "scaling 3" in hc.task_log_value(call.id)

    bundle = hc.task_create_bulk_expr("x * y", [{"x": i, "y": 3} for i in range(8)])
    assert bundle.wait(timeout=WAIT)
    assert bundle.result() == [i * 3 for i in range(8)]


def test_a_cell_runs_there_and_its_values_arrive_in_the_namespace(shell):
    from hipercow_magic.magics import loaded_magics

    shell.user_ns["x"] = 20
    result = shell.run_cell("%%hipercow -o h\nimport getpass\ny = x + 1\nwho = getpass.getuser()")
    assert result.error_in_exec is None, result.error_in_exec
    task = shell.user_ns["h"]
    assert ended(task) == "success"
    wait_until(
        lambda: loaded_magics(shell).delivery.pending_count() or "y" in shell.user_ns,
        timeout=30,
    )
    shell.run_cell("seen = (y, who)")
    assert shell.user_ns["seen"] == (21, "hpc")


def test_the_log_is_the_remote_one_while_the_task_runs_and_after(here):
    code = (
        "import os, time\nprint('first line', flush=True)\n"
        "while not os.path.exists('go'):\n    time.sleep(0.05)\nprint('last line')\n7"
    )
    task = hc.task_create_expr(code)
    wait_until(lambda: "first line" in (hc.task_log_value(task.id) or ""), timeout=WAIT)
    partial = hc.task_log_value(task.id)
    assert f"running at '{here.remote}'" in partial and "last line" not in partial
    (here.remote / "go").touch()  # on the cluster's filesystem: the task sees it
    out = io.StringIO()
    assert hc.task_log_watch(task.id, timeout=WAIT, out=out) is True
    assert "last line" in out.getvalue()
    whole = hc.task_log_value(task.id)
    assert whole.index("first line") < whole.index("last line")
    assert whole == (here.there(task.id) / "log").read_text()
    (here.remote / "go").unlink()


def test_cancel_stops_the_task_there(here):
    task = hc.task_create_expr("import time\ntime.sleep(120)")
    wait_until(lambda: task.status() == "running", timeout=WAIT)
    assert wait_until(lambda: task_processes(task.id), timeout=30)  # hpc's process there
    with redirect_stdout(io.StringIO()):
        assert hc.task_cancel(task.id) is True
    assert task.status() == "cancelled"
    assert (here.there(task.id) / "status-cancelled").exists()
    wait_until(lambda: not task_processes(task.id), timeout=30)


def task_processes(task_id: str) -> list[psutil.Process]:
    """The cluster user's processes running a task (titled with its id)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "username"]):
        if proc.info["username"] == "hpc" and task_id in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_a_failure_brings_its_traceback_and_a_retry_sees_a_new_root_file(here):
    code = (
        "import os\n\ndef check():\n"
        "    if not os.path.exists('ready.txt'):\n"
        "        raise RuntimeError('ready.txt is not there yet')\n"
        "    return open('ready.txt').read()\n\ncheck()"
    )
    task = hc.task_create_expr(code)
    assert ended(task) == "failure"
    error = task.result()
    assert isinstance(error, RuntimeError) and "not there yet" in str(error)
    assert "raise RuntimeError('ready.txt is not there yet')" in error.node_traceback
    assert "in check" in error.node_traceback
    (here.path / "ready.txt").write_text("ready now")
    retry = hc.task_retry(task.id)
    assert retry.id != task.id
    assert ended(retry) == "success"
    assert retry.result() == "ready now"
    assert hc.task_result(task.id) == "ready now"  # followed to its retry
    assert hc.task_info(retry.id).retry_chain == [task.id, retry.id]


def test_task_info_has_its_times_and_the_node_it_ran_on(here):
    task = hc.task_create_expr("import time\ntime.sleep(0.2)\n1")
    assert ended(task) == "success"
    info = hc.task_info(task.id)
    times = info.times
    assert times["created"] <= times["submitted"] <= times["started"] <= times["finished"]
    assert times["finished"] - times["started"] >= 0.2
    assert info.node == NODE
    shown = str(info)
    assert f"Ran on {NODE}" in shown and "Submitted with 'local'" in shown


def test_cluster_info_and_hipercow_info_show_the_remote_cluster(here, shell, capsys):
    info = hc.hipercow_cluster_info()
    assert [n.name for n in info.nodes] == [NODE]
    assert info.nodes[0].cores == 4
    shell.run_line_magic("hipercow_info", "")
    assert NODE in capsys.readouterr().out
    configuration = io.StringIO()
    with redirect_stdout(configuration):
        hc.hipercow_configuration()
    shown = configuration.getvalue()
    assert "over SSH to hipercow-cluster" in shown and str(here.remote) in shown


def test_purge_removes_the_remote_copy_too(here):
    task = hc.task_create_expr("'short-lived'")
    assert ended(task) == "success"
    assert here.there(task.id).is_dir()
    with redirect_stdout(io.StringIO()):
        purged = hc.hipercow_purge(task_ids=[task.id])
    assert purged == [task.id]
    assert not here.there(task.id).exists()
    assert not pathlib.Path(here.root.task_dir(task.id)).exists()


def test_purge_drops_the_chunks_kept_there_for_the_purged_tasks_only(here):
    gone, kept = np.full(200_000, 1.5), np.full(150_000, 2.5)  # 1.6 MB and 1.2 MB
    first = hc.task_create_expr("float(a.sum())", namespace={"a": gone})
    second = hc.task_create_expr("float(b.sum())", namespace={"b": kept})
    assert ended(first) == "success" and ended(second) == "success"
    names = {digest(gone.tobytes()), digest(kept.tobytes())}
    chunks = here.remote / "hipercow" / "remote" / "chunks"
    sent = pathlib.Path(remote_folder(here.root, "local")) / "sent-chunks"

    def there() -> set[str]:
        return {p.parent.name + p.name for p in chunks.glob("*/*")} & names

    assert there() == names and names <= set(sent.read_text().split())
    with redirect_stdout(io.StringIO()):
        assert hc.hipercow_purge(task_ids=[first.id]) == [first.id]
    # the purged task's chunk goes there, and this side knows it; the other task's stays
    assert there() == {digest(kept.tobytes())}
    assert set(sent.read_text().split()) & names == {digest(kept.tobytes())}
    assert second.result() == 150_000 * 2.5
    # used again, it is sent again
    again = hc.task_create_expr("float(a.sum())", namespace={"a": gone})
    assert ended(again) == "success" and again.result() == 300_000.0
    assert there() == names


def test_a_module_beside_the_notebook_is_sent_and_sent_again_when_changed(here):
    helper = here.path / "helper.py"
    helper.write_text("def value():\n    return 'first'\n")
    first = hc.task_create_expr("import helper\nhelper.value()")
    assert ended(first) == "success" and first.result() == "first"
    assert (here.remote / "helper.py").read_text() == helper.read_text()
    helper.write_text("def value():\n    return 'second version'\n")
    second = hc.task_create_expr("import helper\nhelper.value()")
    assert ended(second) == "success" and second.result() == "second version"
    helper.unlink()


def test_the_cli_works_on_the_remote_root(here):
    created = run_cli("create", "print('from the cli')\n6 * 7", "--name", "cli", cwd=here.path)
    assert created.returncode == 0, created.stderr
    task_id = created.stdout.strip()
    waited = run_cli("task", "wait", task_id, "--timeout", str(WAIT), cwd=here.path)
    assert waited.returncode == 0, waited.stderr
    status = run_cli("task", "status", task_id, cwd=here.path).stdout.split()
    assert status == [task_id, "success"]
    assert run_cli("task", "result", task_id, cwd=here.path).stdout.strip() == "42"
    assert "from the cli" in run_cli("task", "log", task_id, cwd=here.path).stdout
    info = run_cli("task", "info", task_id, cwd=here.path).stdout
    assert f"task {task_id} (success)" in info and f"Ran on {NODE}" in info
    assert NODE in run_cli("cluster-info", cwd=here.path).stdout


def test_a_large_array_used_by_ten_tasks_is_sent_once(here):
    data = np.arange(50_000_000 // 8, dtype=np.float64)  # 50 MB
    namespace = {"data": data}
    load_driver(here.root, "local").connection.open()
    pid = master_pid(here.root)
    assert pid is not None
    master = psutil.Process(pid)
    written = master.io_counters().write_chars  # what it sent (its socket writes)
    tasks = [
        hc.task_create_expr(f"float(data[{i}] + data.sum())", namespace=namespace)
        for i in range(10)
    ]
    sent = master.io_counters().write_chars - written
    assert data.nbytes < sent < 2 * data.nbytes  # once, not ten times
    total = float(data.sum())
    for i, task in enumerate(tasks):
        assert ended(task) == "success"
        assert task.result() == i + total
    chunks = here.remote / "hipercow" / "remote" / "chunks"
    large = [p for p in chunks.rglob("*") if p.is_file() and p.stat().st_size >= data.nbytes]
    assert len(large) == 1


# ---- what the connection costs, and losing it ----------------------------------------------
def test_a_bulk_of_500_costs_one_login_and_one_command_per_poll(here, sshd_log):
    driver = load_driver(here.root, "local")
    driver.connection.close()  # the bulk opens the master: its one login
    lines = SshdLines(sshd_log.path, driver.connection.control_path)
    lines.watch()
    try:
        bundle = hc.task_create_bulk_expr("x + 1", [{"x": i} for i in range(500)])
        after_submit = lines.commands()
        per_poll = []
        while True:
            before = lines.commands()
            statuses = hc.task_status(bundle.ids)
            per_poll.append(lines.commands() - before)
            if all(s in ("success", "failure", "cancelled") for s in statuses):
                break
            time.sleep(0.5)
        before = lines.commands()
        assert bundle.result() == [i + 1 for i in range(500)]
        results_cost = lines.commands() - before
    finally:
        lines.stop()
    assert set(statuses) == {"success"}
    assert lines.logins() == 1, lines.ports
    assert after_submit <= 2  # the submission (and the cluster's description, once)
    assert per_poll and set(per_poll) == {1}, per_poll
    assert results_cost == 0  # small results came back with the statuses


def test_a_master_connection_killed_mid_run_is_opened_again_and_no_task_is_lost(here):
    bundle = hc.task_create_bulk_expr(
        "import time\ntime.sleep(1.5)\nx * 10", [{"x": i} for i in range(6)]
    )
    wait_until(lambda: "running" in hc.task_status(bundle.ids), timeout=WAIT)
    pid = master_pid(here.root)
    assert pid is not None
    psutil.Process(pid).kill()
    psutil.wait_procs([psutil.Process(pid)] if psutil.pid_exists(pid) else [], timeout=10)
    assert bundle.wait(timeout=WAIT)
    assert bundle.result() == [i * 10 for i in range(6)]
    assert master_pid(here.root) not in (None, pid)


def test_a_network_cut_gives_warnings_not_failures_then_everything_ends(here, network):
    bundle = hc.task_create_bulk_expr(
        "import time\ntime.sleep(3)\nx + 100", [{"x": i} for i in range(4)]
    )
    wait_until(lambda: "running" in hc.task_status(bundle.ids), timeout=WAIT)
    network.cut()
    cut_at = time.monotonic()
    seen = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HipercowWarning)
        while time.monotonic() - cut_at < 30:
            seen.update(hc.task_status(bundle.ids))
            time.sleep(2)
        network.restore()
        assert bundle.wait(timeout=WAIT)
    said = [str(w.message) for w in caught if issubclass(w.category, HipercowWarning)]
    assert any(s.startswith("Can't reach hipercow-cluster") for s in said), said
    assert sum(s.startswith("Can't reach") for s in said) == 1  # once per outage
    assert said[-1].startswith("hipercow-cluster") and "again" in said[-1], said
    assert seen <= {"submitted", "running"}, seen
    assert hc.task_status(bundle.ids) == ["success"] * 4
    assert bundle.result() == [i + 100 for i in range(4)]


def test_a_submission_the_network_cut_off_leaves_its_task_created_to_submit_again(here, network):
    network.cut()
    try:
        with pytest.raises(HipercowError, match="kept with status 'created'") as caught:
            hc.task_create_expr("21 * 2")
    finally:
        network.restore()
    task_id = re.search(r"Submitting '([0-9a-f]{32})'", str(caught.value)).group(1)
    assert hc.task_status(task_id) == "created"
    assert not (here.there(task_id) / "status-submitted").exists()  # nothing half-submitted
    hc.task_submit(task_id)
    assert hc.task_wait(task_id, timeout=WAIT)
    assert hc.task_result(task_id) == 42


def test_an_environment_and_an_installation_provisioned_there_serve_its_tasks(here):
    (here.path / "greet.py").write_text("import cowsay\n\ndef greet(x):\n    return f'moo {x}'\n")
    with io.StringIO() as out, redirect_stdout(out):
        hc.hipercow_environment_create(
            "cows", packages=["cowsay"], sources=["greet.py"], globals=["greet"]
        )
        hc.hipercow_provision(environment="cows", requirements=["cowsay==6.0"])
    record = hc.hipercow_provision_list("cows")[-1]  # the installation's record, from there
    assert record["status"] == "success"
    assert [p["name"] for p in record["packages"]] == ["cowsay"]
    assert (here.remote / "hipercow" / "provision" / "cows" / record["id"] / "venv").is_dir()
    task = hc.task_create_expr("print('cowsay', cowsay.__version__)\ngreet(1)", environment="cows")
    assert ended(task) == "success", task.log()
    assert task.result() == "moo 1"
    assert "cowsay 6.0" in task.log()


# ---- configurations refused, nothing saved ---------------------------------------------------
@pytest.fixture
def bare(tmp_path, monkeypatch, capsys):
    """A root with no driver configured (its own key)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    root = hc.hipercow_init(".")
    capsys.readouterr()
    return root


def refused(root, **options) -> str:
    """Configure the local driver with `options`, which must fail saving nothing; the
    message.
    """
    with pytest.raises(HipercowError) as e:
        hc.hipercow_configure("local", **options)
    assert not os.path.exists(root.config_path("local"))
    assert root.configured_drivers() == []
    return str(e.value)


def test_ssh_without_remote_root_and_an_unknown_alias_are_refused(bare, cluster):
    said = refused(bare, ssh=cluster)
    assert "remote_root= is missing" in said
    said = refused(bare, ssh="no-such-cluster-here", remote_root="~/roots/x")
    assert "does not know the host 'no-such-cluster-here'" in said


def test_a_remote_root_that_is_a_file_is_refused(bare, cluster):
    name = f"test-file-{uuid.uuid4().hex[:8]}"
    as_hpc(f"touch {name}")
    try:
        said = refused(bare, ssh=cluster, remote_root=f"~/{name}")
    finally:
        (HOME / name).unlink()
    assert f"'{HOME / name}' is a file, not a folder" in said


def test_a_changed_host_key_is_refused(bare, cluster_config, tmp_path):
    key = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text(
        "[127.0.0.1]:2222 " + " ".join(key.with_suffix(".pub").read_text().split()[:2]) + "\n"
    )
    config = cluster_config("moved-cluster", UserKnownHostsFile=str(known))
    given, remote = fresh_remote_root()
    said = refused(bare, ssh="moved-cluster", remote_root=given, ssh_config=config)
    assert "host key could not be verified" in said
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in said
    assert not os.path.exists(remote)


def test_a_remote_python_without_hipercow_or_of_another_version_is_refused(bare, cluster):
    name = f"test-venv-{uuid.uuid4().hex[:8]}"
    venv = HOME / name
    as_hpc(f"/usr/bin/python3.11 -m venv --without-pip {name}")
    given, remote = fresh_remote_root()
    try:
        said = refused(bare, ssh=cluster, remote_root=given, remote_python=f"{venv}/bin/python")
        assert "No module named" in said and "hipercow_magic" in said
        assert f"hipercow remote install --ssh {cluster} --remote-root" in said and given in said
        # the same venv with a copy of hipercow-magic that says it is another version
        site = as_hpc(
            f"{name}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'"
        ).strip()
        theirs = as_hpc(
            "venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'"
        ).strip()
        as_hpc(
            f"echo {theirs} > {site}/venv.pth && cp -r {theirs}/hipercow_magic {site}/ && "
            f"echo '__version__ = \"9.9.9\"' > {site}/hipercow_magic/_version.py"
        )
        said = refused(bare, ssh=cluster, remote_root=given, remote_python=f"{venv}/bin/python")
        assert f"hipercow-magic 9.9.9 there, {hc.__version__} here" in said
        assert "hipercow remote install" in said
        assert not os.path.exists(remote)
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def test_remote_install_makes_a_venv_the_root_then_runs_with(bare, cluster):
    given, remote = fresh_remote_root()
    try:
        out = run_cli("remote", "install", "--ssh", cluster, "--remote-root", given, cwd=bare.path)
        assert out.returncode == 0, out.stderr
        python = f"{remote}/hipercow/remote/venv/bin/python"
        assert python in out.stdout
        with redirect_stdout(io.StringIO()):
            hc.hipercow_configure("local", ssh=cluster, remote_root=given, idle_timeout=30)
        assert bare.driver_config("local")["remote"]["remote_python"] == python
        task = hc.task_create_expr("import sys\nsys.executable")
        assert ended(task) == "success"
        assert task.result() == python
    finally:
        load_driver(bare, "local").connection.close()
        remove_remote(remote)
