"""Run All in a real JupyterLab (Chromium): a chain of `%%hipercow` cells and cells reading
what they set runs top to bottom, each reading cell waiting for its task."""

from __future__ import annotations

import re

from notebook_ui import screenshots, write_notebook

import hipercow_magic as hc

TASK = re.compile(r"task ([0-9a-f]{8})")
CELLS = [
    "%load_ext hipercow_magic",
    "%%hipercow --name first\nimport time\ntime.sleep(8)\na = 21",
    "print('a * 2 =', a * 2)",
    "%%hipercow --name second\nimport time\ntime.sleep(1)\nb = a + 1",
    "print('b =', b)",
]


def open_alone(page, lab, name: str) -> None:
    """Open notebook `name` of the project in a JupyterLab workspace of its own (so it is the
    only notebook open), once its kernel is idle."""
    page.goto(lab.url(f"/lab/workspaces/{name}/tree/project/{name}.ipynb", token=lab.token))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.get_by_text(re.compile(r"\|\s*Idle")).first.wait_for(timeout=60_000)


def run_all_cells(page) -> None:
    """Run > Run All Cells, from JupyterLab's menu bar, as a user does."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item").get_by_text("Run All Cells", exact=True).click()


def output(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")


def test_run_all_runs_a_chain_of_hipercow_cells(lab, page):
    write_notebook(lab.project / "chain.ipynb", CELLS)
    open_alone(page, lab, "chain")
    run_all_cells(page)

    waiting = output(page, 2).get_by_text(re.compile(r"waiting for task [0-9a-f]{8} to set a;"))
    waiting.wait_for(timeout=60_000)  # the reading cell waits for the first task, live
    assert "interrupt to stop waiting" in waiting.inner_text()
    screenshots(page, "run-all-waiting")

    page.wait_for_function(  # every cell has run: a number in every prompt
        "() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
        ".every(p => /\\[\\d+\\]/.test(p.textContent))",
        timeout=120_000,
    )
    notebook = page.locator(".jp-Notebook").inner_text()
    assert "NameError" not in notebook and "Error" not in notebook
    assert "a * 2 = 42" in output(page, 2).inner_text()
    assert re.search(r"task [0-9a-f]{8} set a after ", output(page, 2).inner_text())
    assert output(page, 2).locator(".hipercow-waiting code").count() == 2  # the id and `a`
    # `a` is still what the first task set: the second task imports it from there
    root = str(lab.project)
    first, second = (
        hc.resolve_task_id(TASK.search(output(page, k).inner_text()).group(1), root=root)
        for k in (1, 3)
    )
    assert hc.task_info(second, root=root).data["imports"] == {"a": first}
    assert "captured:" not in output(page, 3).inner_text()
    assert "b = 22" in output(page, 4).inner_text()
    screenshots(page, "run-all")


def test_run_all_stops_at_a_cell_reading_what_a_failed_task_would_set(lab, page):
    cells = [
        "%load_ext hipercow_magic",
        "%%hipercow --name broken\nimport time\ntime.sleep(2)\nratio = 1 / 0",
        "print(ratio)",
        "print('not reached')",
    ]
    write_notebook(lab.project / "broken.ipynb", cells)
    open_alone(page, lab, "broken")
    run_all_cells(page)
    output(page, 2).get_by_text("HipercowError").wait_for(timeout=60_000)
    error = output(page, 2).locator(".jp-OutputArea-output").last
    text = error.inner_text().strip()
    task = re.search(r"task ([0-9a-f]{8}), which sets ratio, failed", output(page, 2).inner_text())
    assert task, output(page, 2).inner_text()
    assert text == (
        f"HipercowError: task {task.group(1)}, which sets `ratio`, failed: ZeroDivisionError: "
        f"division by zero; nothing was set. See its display above, or %hipercow retry "
        f"{task.group(1)}"
    )  # one line, no traceback
    page.wait_for_function(  # Run All stops there: the last cell never runs
        "() => ![...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
        ".some(p => p.textContent.includes('[*]'))",
        timeout=60_000,
    )
    last = page.locator(".jp-Notebook .jp-Cell").nth(3)
    assert last.locator(".jp-InputPrompt").inner_text().strip() == "[ ]:"
    assert "not reached" not in output(page, 3).inner_text()
    screenshots(page, "run-all-failed")
