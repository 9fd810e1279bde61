"""The magics in a real Jupyter kernel (jupyter_client), submitting to the real local driver."""

from __future__ import annotations

import json
import os
import queue
import time

import pytest
from processes import SOURCE

pytestmark = pytest.mark.kernel


def kernel_env() -> dict:
    """The environment for kernels: they import the hipercow_magic under test."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": SOURCE + (os.pathsep + path if path else "")}


class Kernel:
    """A real ipykernel in `cwd`, with helpers to run code and watch its messages."""

    def __init__(self, cwd):
        from jupyter_client.manager import start_new_kernel

        self.cwd = str(cwd)
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=self.cwd, env=kernel_env())

    def run(self, code: str, timeout: float = 60, user_expressions=None) -> dict:
        """Execute `code`; the reply and the outputs (stdout, stderr, results, displays)."""
        messages = []
        reply = self.kc.execute_interactive(
            code,
            timeout=timeout,
            output_hook=messages.append,
            user_expressions=user_expressions or {},
        )
        out = {
            "status": reply["content"]["status"],
            "reply": reply["content"],
            "stdout": "",
            "stderr": "",
            "results": [],
            "displays": [],
            "errors": [],
            "messages": messages,
        }
        for m in messages:
            c = m["content"]
            if m["msg_type"] == "stream":
                out[c["name"]] += c["text"]
            elif m["msg_type"] == "execute_result":
                out["results"].append(c["data"])
            elif m["msg_type"] == "display_data":
                out["displays"].append(c["data"])
            elif m["msg_type"] == "error":
                out["errors"].append(c)
        return out

    def evaluate(self, expression: str):
        """Evaluate without running a cell (no cell hooks fire), as a front end's inspector."""
        reply = self.run("", user_expressions={"e": expression})
        return reply["reply"]["user_expressions"]["e"]["data"]["text/plain"]

    def iopub(self, seconds: float) -> list[dict]:
        """Messages the kernel publishes on its own during `seconds` (e.g. widget updates)."""
        out = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                out.append(self.kc.get_iopub_msg(timeout=0.1))
            except queue.Empty:
                pass
        return out

    def restart(self) -> None:
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=60)

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    from processes import stop_local_scheduler

    import hipercow_magic as hc

    folder = tmp_path_factory.mktemp("kernel-root")
    k = Kernel(folder)
    setup = k.run("%load_ext hipercow_magic\n%hipercow init . --driver local --cluster example")
    assert setup["status"] == "ok", setup
    yield k
    k.shutdown()
    stop_local_scheduler(hc.hipercow_root(str(folder)))


def task_id_of(kernel, variable: str) -> str:
    return json.loads(kernel.evaluate(f"{variable}.id").replace("'", '"'))


def wait_status(kernel, variable: str, wanted, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = kernel.evaluate(f"{variable}.status()").strip("'")
        if status in wanted:
            return status
        time.sleep(0.2)
    raise AssertionError(f"{variable} did not reach {wanted}")


def test_cell_shows_a_live_widget_that_updates_while_idle(kernel):
    out = kernel.run("x = 20\nunused = 1")
    out = kernel.run("%%hipercow -o t1\nimport time\ntime.sleep(0.5)\ny = x + 1\ny")
    assert out["status"] == "ok"
    [display] = out["displays"]
    assert "application/vnd.jupyter.widget-view+json" in display
    assert "hipercow task" in display["text/plain"] and "captured: x (" in display["text/plain"]
    published = kernel.iopub(3)
    updates = json.dumps([m["content"] for m in published if m["msg_type"] == "comm_msg"])
    assert "hipercow-running" in updates and "hipercow-success" in updates
    assert "set in the notebook" in updates


def test_values_arrive_as_soon_as_the_kernel_is_idle(kernel):
    kernel.run("%%hipercow -o t2\nidle_value = 'arrived'")
    wait_status(kernel, "t2", ("success",))
    deadline = time.monotonic() + 5
    while kernel.evaluate("'idle_value' in globals()") != "True":
        assert time.monotonic() < deadline, "value did not arrive while the kernel was idle"
        time.sleep(0.2)
    assert kernel.evaluate("idle_value") == "'arrived'"


def test_values_never_arrive_during_a_running_cell(kernel):
    kernel.run("%%hipercow -o t3\nimport time\ntime.sleep(0.5)\nduring = 1")  # ends mid-cell
    out = kernel.run(
        "import time\nobserved = []\nfor _ in range(30):\n"
        "    observed.append('during' in globals())\n    time.sleep(0.1)\n"
        "print(t3.status(), observed.count(True))"
    )
    assert out["stdout"].strip() == "success 0"
    assert kernel.run("print(during)")["stdout"].strip() == "1"


def test_failure_changes_nothing(kernel):
    kernel.run("keep = 'mine'")
    kernel.run("%%hipercow -o t4\nkeep = 'theirs'\nraise KeyError('gone')")
    wait_status(kernel, "t4", ("failure",))
    time.sleep(1.5)
    assert kernel.run("print(keep)")["stdout"].strip() == "mine"


def test_wait_outputs_the_last_value(kernel):
    out = kernel.run("%%hipercow --wait\nw = x * 3\nw + 1")
    assert out["status"] == "ok"
    assert out["results"][-1]["text/plain"] == "61"
    assert kernel.run("print(w)")["stdout"].strip() == "60"


def test_interrupting_a_waiting_cell_stops_the_wait_not_the_task(kernel):
    import threading

    timer = threading.Timer(1.5, kernel.km.interrupt_kernel)
    timer.start()
    out = kernel.run(
        "%%hipercow --wait -o patient\nimport time\ntime.sleep(3)\npatience = 'rewarded'\npatience"
    )
    timer.join()
    assert out["status"] == "ok" and not out["results"]
    assert "Stopped waiting for task" in out["stdout"]
    assert wait_status(kernel, "patient", ("success",)) == "success"
    deadline = time.monotonic() + 5
    while kernel.evaluate("'patience' in globals()") != "True":
        assert time.monotonic() < deadline, "value did not arrive after the wait was stopped"
        time.sleep(0.2)


def test_bad_option_is_one_line_without_traceback(kernel):
    before = kernel.evaluate("len(__import__('hipercow_magic').task_list())")
    out = kernel.run("%%hipercow --cores 99\nz = 1")
    assert out["status"] == "error"
    assert out["stderr"].strip() == (
        "UsageError: 99 is too many cores for this cluster. — The largest node has 4 cores."
    )
    assert not any(e.get("traceback") for e in out["errors"])
    assert kernel.evaluate("len(__import__('hipercow_magic').task_list())") == before


def test_bulk_in_a_kernel(kernel):
    out = kernel.run("rows = {'a': [1, 2, 3]}")
    out = kernel.run("%%hipercow --bulk rows --wait -o b\na + x")
    assert out["status"] == "ok"
    assert out["results"][-1]["text/plain"] == "[21, 22, 23]"
    assert "hipercow bundle" in out["displays"][0]["text/plain"]


def test_reattach_after_a_kernel_restart(kernel):
    out = kernel.run("%%hipercow -o slow\nimport time\ntime.sleep(3)\nsurvivor = 'kept'")
    task_id = task_id_of(kernel, "slow")
    kernel.restart()
    out = kernel.run(
        "%load_ext hipercow_magic\n%config HipercowMagics.display = 'text'\n%hipercow list"
    )
    assert task_id[:8] in out["stdout"]
    out = kernel.run(f"%hipercow show {task_id[:8]} --export")
    assert f"hipercow task {task_id[:8]}" in out["stdout"]
    out = kernel.run(f"%hipercow wait {task_id[:8]}")
    assert out["results"][-1]["text/plain"] == "True"
    out = kernel.run("survivor")
    assert out["results"][-1]["text/plain"] == "'kept'"
    out = kernel.run(f"%hipercow result {task_id}")
    assert out["status"] == "ok"
    kernel.run("%config HipercowMagics.display = 'auto'\nx = 20")


def test_extension_and_settings_from_the_kernels_configuration(tmp_path):
    from processes import stop_local_scheduler

    import hipercow_magic as hc

    hc.hipercow_init(str(tmp_path), driver="local", idle_timeout=30)
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(
        kernel_name="python3",
        cwd=str(tmp_path),
        env=kernel_env(),
        extra_arguments=[
            "--InteractiveShellApp.extensions=hipercow_magic",
            "--HipercowMagics.refresh_interval=0.5",
            "--HipercowMagics.default_driver=local",
        ],
    )
    k = Kernel.__new__(Kernel)
    k.km, k.kc, k.cwd = km, kc, str(tmp_path)
    try:
        out = k.run(
            "from hipercow_magic.magics import loaded_magics\n"
            "m = loaded_magics(get_ipython())\nprint(m.refresh_interval, m.default_driver)"
        )
        assert out["stdout"].strip() == "0.5 local"
        k.run("%%hipercow -o t\nconfigured = 'yes'")
        wait_status(k, "t", ("success",))
        deadline = time.monotonic() + 5
        while k.evaluate("'configured' in globals()") != "True":
            assert time.monotonic() < deadline, "value did not arrive while idle"
            time.sleep(0.2)
    finally:
        k.shutdown()
        stop_local_scheduler(hc.hipercow_root(str(tmp_path)))
