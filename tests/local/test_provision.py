"""Provisioning on the local driver: real pip installs from PyPI, run as tasks.

One root is provisioned once for the module (cowsay 6.0, a small pure-Python package that is
not installed in the interpreter running the tests); later tests build on it in order.
"""

import os
import subprocess
import sys
import threading
import time

import pytest
from processes import source_environment, stop_local_scheduler

import hipercow_magic as hc
from hipercow_magic.cli.args import provision_cli
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.provision import all_records

pytestmark = pytest.mark.slow


def _not_installed_here(module: str) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, check=False
    )
    return probe.returncode != 0


@pytest.fixture(scope="module")
def proot(tmp_path_factory):
    """A local-driver root where 'default' has cowsay 6.0 provisioned."""
    assert _not_installed_here("cowsay"), "the tests need cowsay absent from this Python"
    path = tmp_path_factory.mktemp("provisioned")
    old = os.getcwd()
    os.chdir(path)
    root = hc.hipercow_init(".", driver="local", idle_timeout=60)
    try:
        hc.hipercow_provision(requirements=["cowsay==6.0"])
        yield root
    finally:
        stop_local_scheduler(root)
        os.chdir(old)


@pytest.fixture(autouse=True)
def in_root(proot, monkeypatch):
    monkeypatch.chdir(proot.path)


def test_provisioned_package_is_importable_by_tasks(proot, capsys):
    hc.hipercow_environment_create("cows", packages=["cowsay"])
    task = hc.task_create_expr("cowsay.__version__", environment="cows")
    assert task.wait(timeout=120), task.log()
    assert task.result() == "6.0"
    plain = hc.task_create_expr("import cowsay\nprint('version', cowsay.__version__)")
    assert plain.wait(timeout=120), plain.log()
    assert "version 6.0" in plain.log()
    assert "• provisioned: " in plain.log()


def test_the_nodes_writes_of_a_record_never_lose_its_task(proot):
    from hipercow_magic.core.provision import read_record, write_record

    (record,) = all_records(proot, "default")
    assert record["status"] == "success" and len(record["task"]) == 32
    assert hc.task_status(record["task"]) == "success"
    # the node writes its record from the copy it read before the task id was known
    write_record(proot, {**record, "task": None})
    assert read_record(proot, "default", record["id"])["task"] == record["task"]
    assert all_records(proot, "default") == [record]


def test_interpreter_packages_stay_available(proot):
    task = hc.task_create_expr("import psutil, cloudpickle\n(psutil.__name__, 'ok')[1]")
    assert task.wait(timeout=120), task.log()
    assert task.result() == "ok"


def test_empty_environment_cannot_import_it(proot):
    task = hc.task_create_expr("import cowsay\ncowsay.__version__", environment="empty")
    assert not task.wait(timeout=120)
    error = task.result()
    assert isinstance(error, ImportError)
    assert "No module named 'cowsay'" in str(error)
    assert "ModuleNotFoundError: No module named 'cowsay'" in task.log()


def test_subprocesses_of_a_task_see_the_environment(proot):
    code = (
        "import subprocess\nout = subprocess.run(['python', '-c', 'import cowsay; "
        "print(cowsay.__version__)'], capture_output=True, text=True)\nout.stdout.strip()"
    )
    task = hc.task_create_expr(code)
    assert task.wait(timeout=120), task.log()
    assert task.result() == "6.0"


def test_sources_using_provisioned_packages_and_pool_workers(proot):
    with open("cowfuns.py", "w") as f:
        f.write("import cowsay\n\ndef say(x):\n    return cowsay.__version__ + ':' + str(x)\n")
    hc.hipercow_environment_create("cowfuns", sources=["cowfuns.py"], globals=True)
    assert hc.hipercow_environment_show("cowfuns")["globals"] == ["cowsay", "say"]
    task = hc.task_create_expr(
        "from hipercow_magic import pool\npool().map(say, range(3))",
        environment="cowfuns",
        resources=hc.hipercow_resources(cores=2),
        parallel=hc.hipercow_parallel("parallel"),
    )
    assert task.wait(timeout=180), task.log()
    assert task.result() == ["6.0:0", "6.0:1", "6.0:2"]


def test_failed_installation_keeps_the_previous_one(proot, capsys):
    before = hc.hipercow_provision_list()
    capsys.readouterr()
    with pytest.raises(HipercowError) as e:
        hc.hipercow_provision(requirements=["hipercow-magic-no-such-package==0.0.1"])
    out = capsys.readouterr().out
    assert "No matching distribution found for hipercow-magic-no-such-package==0.0.1" in out
    assert "Installation failed after" in str(e.value)
    assert f"Tasks keep using installation {before[-1]['id']}" in str(e.value)
    records = hc.hipercow_provision_list()
    assert records[-1]["status"] == "failure"
    assert not os.path.exists(
        os.path.join(proot.hipercow, "provision", "default", records[-1]["id"], "venv")
    )
    task = hc.task_create_expr("cowsay.__version__", environment="cows")
    assert task.wait(timeout=120), task.log()
    assert task.result() == "6.0"


def test_second_installation_then_list_check_and_compare(proot, capsys):
    with open("requirements.txt", "w") as f:
        f.write("# what the tasks need\ncowsay==6.1\ntomli==2.0.1\n")
    hc.hipercow_provision()  # method chosen from requirements.txt
    out = capsys.readouterr().out
    assert "with pip cowsay==6.1 tomli==2.0.1 (from requirements.txt)" in out
    assert "✔ Installation script finished successfully in" in out
    task = hc.task_create_expr(
        "(cowsay.__version__, __import__('tomli').__name__)", environment="cows"
    )
    assert task.wait(timeout=120), task.log()
    assert task.result() == ("6.1", "tomli")

    records = hc.hipercow_provision_list()
    out = capsys.readouterr().out
    assert out.startswith(
        "2 installations recorded for environment 'default' (and 1 not successful)"
    )
    first, second = [r for r in records if r["status"] == "success"]
    assert f"• 1: {first['id']} (" in out and "[-1] pip cowsay==6.0" in out
    assert f"• 2: {second['id']} (" in out and "[0] (current) pip cowsay==6.1" in out
    assert "✖ " in out and "failure: pip hipercow-magic-no-such-package==0.0.1" in out

    diff = hc.hipercow_provision_compare()
    out = capsys.readouterr().out
    assert diff == {
        "added": {"tomli": "2.0.1"},
        "removed": {},
        "changed": {"cowsay": ("6.0", "6.1")},
        "unchanged": {},
    }
    assert "Added (1):\n  • tomli 2.0.1" in out
    assert "Changed (1):\n  • cowsay 6.0 → 6.1" in out
    assert hc.hipercow_provision_compare(1, None) == {
        "added": {"cowsay": "6.0"},
        "removed": {},
        "changed": {},
        "unchanged": {},
    }
    assert hc.hipercow_provision_compare(curr=1, prev=2)["changed"] == {"cowsay": ("6.1", "6.0")}
    with pytest.raises(HipercowError, match="No installation 5: 2 installations recorded"):
        hc.hipercow_provision_compare(5)

    assert hc.hipercow_provision_check() is True
    out = capsys.readouterr().out
    assert f"{second['id']}" in out and "(*)" in out
    assert "✔ The current installation matches this request" in out
    assert hc.hipercow_provision_check(requirements=["cowsay==6.0"]) is False
    assert "does not match" in capsys.readouterr().out


def test_script_method(proot, capsys):
    with open("provision.sh", "w") as f:
        f.write(
            'set -e\necho "installing into $VIRTUAL_ENV"\npip install -q tomli==2.0.1\n'
            "python -m pip install -q cowsay==6.0\n"
        )
    try:
        hc.hipercow_provision(environment="cows")  # provision.sh is chosen first
    finally:
        os.unlink("provision.sh")
    out = capsys.readouterr().out
    assert "with script provision.sh" in out
    assert "installing into " + os.path.join(proot.hipercow, "provision", "cows") in out
    record = hc.hipercow_provision_list("cows")[-1]
    assert {p["name"]: p["version"] for p in record["packages"]} == {
        "cowsay": "6.0",
        "tomli": "2.0.1",
    }
    # each environment has its own installation
    cows = hc.task_create_expr("cowsay.__version__", environment="cows")
    default = hc.task_create_expr("__import__('cowsay').__version__")
    assert cows.wait(timeout=120) and default.wait(timeout=120)
    assert (cows.result(), default.result()) == ("6.0", "6.1")


def test_cancelled_installation_is_recorded_and_changes_nothing(proot):
    with open("slow.sh", "w") as f:
        f.write("echo starting\nsleep 60\n")
    errors = []

    def provision():
        try:
            hc.hipercow_provision("script", environment="cows", script="slow.sh")
        except HipercowError as e:
            errors.append(str(e))

    thread = threading.Thread(target=provision)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        records = all_records(proot, "cows")
        if records[-1]["status"] == "running":
            break
        time.sleep(0.2)
    hc.task_cancel(records[-1]["task"])
    thread.join(60)
    assert "Installation failed after" in errors[0] and "status 'cancelled'" in errors[0]
    assert "Tasks keep using installation" in errors[0]
    assert hc.hipercow_provision_list("cows")[-1]["status"] == "cancelled"
    task = hc.task_create_expr("cowsay.__version__", environment="cows")
    assert task.wait(timeout=120), task.log()
    assert task.result() == "6.0"


def test_provisioning_refused_while_tasks_of_the_environment_wait(proot):
    blocker = hc.task_create_expr("import time\ntime.sleep(30)", environment="cows")
    assert blocker.wait(timeout=120, for_start=True)
    try:
        with pytest.raises(HipercowError) as e:
            hc.hipercow_provision(environment="cows", requirements=["cowsay==6.1"])
        message = str(e.value)
        assert f"1 task using environment 'cows' is queued or running: {blocker.id}" in message
        assert "check_running_tasks=False" in message
    finally:
        hc.task_cancel(blocker.id)
    # 'cowfuns' has no installation of its own, so it uses (and waits on) the default one
    shared = hc.task_create_expr("import time\ntime.sleep(30)", environment="cowfuns")
    assert shared.wait(timeout=120, for_start=True)
    try:
        with pytest.raises(HipercowError, match=f"is queued or running: {shared.id}"):
            hc.hipercow_provision(requirements=["cowsay==6.1"])
    finally:
        hc.task_cancel(shared.id)


def test_interactive_answer_no_installs_nothing(proot):
    """`hipercow provision` in a terminal asks first; answering 'n' leaves things as they were."""
    import pty

    blocker = hc.task_create_expr("import time\ntime.sleep(30)", environment="cows")
    assert blocker.wait(timeout=120, for_start=True)
    before = len(hc.hipercow_provision_list("cows"))
    try:
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(
                sys.executable,
                [
                    sys.executable,
                    "-m",
                    "hipercow_magic.cli",
                    "provision",
                    "--environment",
                    "cows",
                    "--requirements",
                    "cowsay",
                ],
                source_environment(),
            )
            os._exit(127)
        output = b""
        while b"[y/N]" not in output:
            try:
                output += os.read(fd, 1024)
            except OSError:
                raise AssertionError(output.decode()) from None
        os.write(fd, b"n\n")
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        hc.task_cancel(blocker.id)
    text = output.decode()
    assert "is queued or running" in text and "Provision anyway? [y/N]" in text
    assert "Error: Provisioning cancelled; nothing was installed" in text
    assert os.waitstatus_to_exitcode(status) == 1
    assert len(hc.hipercow_provision_list("cows")) == before


def test_command_line_list_and_compare(proot, capsys):
    provision_cli(["list"])
    assert "2 installations recorded for environment 'default'" in capsys.readouterr().out
    provision_cli(["compare", "--curr", "2", "--prev", "1"])
    assert "Changed (1):\n  • cowsay 6.0 → 6.1" in capsys.readouterr().out


def test_bad_requests(proot):
    with pytest.raises(HipercowError, match="Can't provision the 'empty' environment"):
        hc.hipercow_provision(environment="empty", requirements=["x"])
    with pytest.raises(HipercowError, match="Environment 'nope' does not exist"):
        hc.hipercow_provision(environment="nope", requirements=["x"])
    with pytest.raises(HipercowError, match="Unknown provisioning method 'conda'"):
        hc.hipercow_provision("conda")
    with pytest.raises(HipercowError, match="Unknown option for method 'pip': script"):
        hc.hipercow_provision("pip", script="x.sh")
    with pytest.raises(HipercowError, match="The script 'missing.sh' was not found"):
        hc.hipercow_provision("script", script="missing.sh")
    with pytest.raises(HipercowError, match="'requirements' must be a non-empty list"):
        hc.hipercow_provision(requirements=[])
    os.rename("requirements.txt", "requirements.keep")
    try:
        with pytest.raises(HipercowError, match="Don't know what to provision"):
            hc.hipercow_provision()
        with open("pyproject.toml", "w") as f:
            f.write("[project]\nname = 'analysis'\ndependencies = ['cowsay==6.1']\n")
        assert hc.hipercow_provision_check() is False  # same packages, but asked differently
    finally:
        os.rename("requirements.keep", "requirements.txt")
        if os.path.exists("pyproject.toml"):
            os.unlink("pyproject.toml")


def test_installation_from_another_python_version_is_refused(proot):
    """Packages built for another interpreter would break in odd ways; the task says why."""
    from hipercow_magic.core.provision import own_record, write_record

    record = own_record(proot, "default")
    write_record(proot, {**record, "python_version": "3.0"})
    try:
        task = hc.task_create_expr("1")
        assert not task.wait(timeout=120)
        error = task.result()
        assert (
            "Environment 'default' was provisioned with Python 3.0, but this is Python "
            f"{sys.version_info.major}.{sys.version_info.minor}" in str(error)
        )
        assert "Run hipercow_provision() again" in str(error)
    finally:
        write_record(proot, record)
