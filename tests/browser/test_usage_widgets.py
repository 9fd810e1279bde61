"""What tasks used, in a real JupyterLab (Debian's Chromium): a task's display with its live
usage while it runs and its efficiency once ended, and a bundle's share of its requests with
the chart of each task's peak memory and average cores; screenshots light and dark.
"""

from __future__ import annotations

from notebook_ui import open_notebook, run_cell, screenshots, write_notebook
from processes import stop_local_scheduler

HOLDS = (
    "import os, time\n"
    "block = bytearray(size)\n"
    "until = time.time() + seconds\n"
    "while time.time() < until or (wait and not os.path.exists('release')):\n"
    "    pass\n"
    "del block"
)
CELLS = [
    "%load_ext hipercow_magic\n%hipercow init . --driver local --cluster example",
    "size, seconds, wait = 200_000_000, 2, True",
    f"%%hipercow --cores 2 --memory-per-node 1G\n{HOLDS}",
    "open('release', 'w').close()",
    "rows = [{'size': mb * 1_000_000, 'seconds': 1 + k % 3, 'wait': False}\n"
    "        for k, mb in enumerate((40, 80, 120, 160, 200, 240, 280, 320))]",
    f"%%hipercow --bulk rows --cores 2 --memory-per-node 1G --name sized\n{HOLDS}",
]
TASK = ".hipercow-task"


def test_a_task_shows_its_usage_live_and_at_the_end_and_a_bundle_its_chart(lab, page):
    from hipercow_magic.core.root import find_root

    folder = lab.project / "usage"
    folder.mkdir()
    write_notebook(folder / "usage.ipynb", CELLS)
    open_notebook(page, lab, "project/usage/usage.ipynb")
    try:
        for k in range(3):
            run_cell(page, k)
        page.wait_for_function(  # the live line, once the first reading is in
            "sel => /using \\d+\\.\\d of 2 cores, \\d+ MB of 1 GB/"
            ".test(document.querySelector(sel).innerText)",
            arg=TASK,
            timeout=60_000,
        )
        page.evaluate("sel => document.querySelector(sel).scrollIntoView()", TASK)
        screenshots(page, "task-usage-live")

        run_cell(page, 3)  # the task ends: its record says what it used, against its request
        record = page.locator(".hipercow-record.hipercow-task").first
        record.wait_for(timeout=60_000)
        page.wait_for_function(
            "() => /used \\d+\\.\\d of 2 cores on average \\(\\d+%\\), peak \\d+ MB of 1 GB "
            "\\(\\d+%\\)$/m.test(document.querySelector('.hipercow-record.hipercow-task')"
            ".innerText)",
            timeout=60_000,
        )
        page.evaluate(
            "() => document.querySelector('.hipercow-record.hipercow-task').scrollIntoView()"
        )
        screenshots(page, "task-usage-ended")

        run_cell(page, 4)
        run_cell(page, 5)
        bulk = page.locator(".hipercow-record.hipercow-bulk").first
        bulk.wait_for(timeout=120_000)
        page.wait_for_function(
            "() => /used \\d+% of the cores and \\d+% of the memory asked for, across 8 "
            "tasks/.test(document.querySelector('.hipercow-record.hipercow-bulk').innerText)",
            timeout=60_000,
        )
        bulk.locator("details.hipercow-usage > summary").click()
        chart = bulk.locator("svg.hipercow-usage-chart")
        chart.wait_for()
        assert chart.locator("circle.used").count() == 16  # a mark per task, in each panel
        assert chart.locator("line.asked").count() == 16  # at what it asked for
        size = chart.bounding_box()
        assert size["width"] > 400 and size["height"] > 100
        marks = chart.locator("circle.used").evaluate_all(
            "cs => cs.map(c => getComputedStyle(c).fill)"
        )
        assert len(set(marks)) == 1 and marks[0] != "rgb(0, 0, 0)"  # success's colour
        page.evaluate(
            "() => document.querySelector('.hipercow-record.hipercow-bulk').scrollIntoView()"
        )
        screenshots(page, "bulk-usage")
    finally:
        stop_local_scheduler(find_root(str(folder)))
