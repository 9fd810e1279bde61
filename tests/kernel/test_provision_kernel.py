"""In a real Jupyter kernel, provisioning asks before touching an environment tasks are using."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow  # and `kernel`, from its folder (tests/conftest.py)


def test_notebook_is_asked_and_answering_no_installs_nothing(tmp_path):
    from jupyter_client.manager import start_new_kernel
    from processes import source_environment, stop_local_scheduler

    import hipercow_magic as hc

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=source_environment())
    prompts, messages = [], []

    def answer(msg):
        prompts.append(msg["content"]["prompt"])
        kc.input("n")

    try:
        setup = (
            "import hipercow_magic as hc\n"
            "hc.hipercow_init('.', driver='local', idle_timeout=60)\n"
            "blocker = hc.task_create_expr('import time\\ntime.sleep(60)', namespace={})\n"
            "assert blocker.wait(timeout=120, for_start=True)"
        )
        reply = kc.execute_interactive(setup, timeout=180, output_hook=messages.append)
        assert reply["content"]["status"] == "ok", reply["content"]
        reply = kc.execute_interactive(
            "hc.hipercow_provision(requirements=['cowsay'])",
            timeout=120,
            allow_stdin=True,
            stdin_hook=answer,
            output_hook=messages.append,
        )
        assert reply["content"]["status"] == "error"
        assert reply["content"]["evalue"] == "Provisioning cancelled; nothing was installed"
        [prompt] = prompts
        assert "1 task using environment 'default' is queued or running" in prompt
        assert prompt.endswith("Provision anyway? [y/N] ")
        # a front end that can't answer (IPython raises StdinNotImplementedError): nobody to
        # ask, so the message says what to do instead
        reply = kc.execute_interactive(
            "hc.hipercow_provision(requirements=['cowsay'])",
            timeout=120,
            allow_stdin=False,
            output_hook=messages.append,
        )
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "HipercowError"
        evalue = reply["content"]["evalue"]
        assert evalue.startswith("1 task using environment 'default' is queued or running")
        assert evalue.endswith(
            "Wait for them (task_wait) or cancel them (task_cancel) first, or pass "
            "check_running_tasks=False (--force) to provision anyway."
        )
        assert len(prompts) == 1
        listed = kc.execute_interactive(
            "print(len(hc.hipercow_provision_list()))", timeout=60, output_hook=messages.append
        )
        assert listed["content"]["status"] == "ok"
        text = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert "0 installations recorded for environment 'default'" in text
        kc.execute_interactive("hc.task_cancel(blocker)", timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        stop_local_scheduler(hc.hipercow_root(str(tmp_path)))


def test_environment_and_provision_magics(tmp_path):
    from jupyter_client.manager import start_new_kernel
    from processes import source_environment, stop_local_scheduler

    import hipercow_magic as hc

    (tmp_path / "funs.py").write_text(
        "import cowsay\n\ndef moo():\n    return cowsay.__version__\n"
    )
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=source_environment())

    def run(code: str) -> str:
        messages = []
        reply = kc.execute_interactive(code, timeout=180, output_hook=messages.append)
        text = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert reply["content"]["status"] == "ok", (reply["content"], text)
        return text

    try:
        run("%load_ext hipercow_magic\n%hipercow init . --driver local")
        out = run('%hipercow provision --requirements "cowsay==6.0"')
        assert "Successfully installed cowsay-6.0" in out
        assert "✔ Installation script finished successfully" in out
        out = run("%hipercow environment create cows --sources funs.py --globals auto")
        assert "✔ Created environment 'cows'" in out
        out = run("%hipercow environment show cows")
        assert "• globals: cowsay, moo" in out and "• provisioned: 'default' installation" in out
        out = run("%hipercow environment list")
        assert out.split() == ["default", "empty", "cows"]
        out = run(
            "import hipercow_magic as hm\n"
            "t = hm.task_create_expr('moo()', environment='cows')\n"
            "print(t.wait(timeout=120), t.result())"
        )
        assert out.strip() == "True 6.0"
        out = run("%hipercow provision list")
        assert "1 installation recorded for environment 'default'" in out
        messages = []
        kc.execute_interactive(
            "%hipercow environment delete empty", timeout=60, output_hook=messages.append
        )
        shown = json.dumps([m["content"] for m in messages])
        assert "Can't delete environment with special name 'empty'" in shown
        assert "Traceback" not in shown
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        stop_local_scheduler(hc.hipercow_root(str(tmp_path)))
