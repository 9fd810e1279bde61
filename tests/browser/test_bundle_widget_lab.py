"""A 50-row sweep with failures in a real JupyterLab (Debian's Chromium): the bundle's bar
stacked by state, its table of tasks by parameters, the failures by parameters, the ETA,
the timeline by node, and the record it becomes; screenshots in the light and dark themes.
"""

from __future__ import annotations

from notebook_ui import open_notebook, run_cell, screenshots, write_notebook
from processes import stop_local_scheduler

CELLS = [
    "%load_ext hipercow_magic\n%hipercow init . --driver local --cluster example",
    "rows = [{'beta': b, 'seed': s} for b in (0.1, 0.2, 0.3, 0.4, 0.5) for s in range(10)]",
    "%%hipercow --bulk rows -o sweep\nimport os, time\ntime.sleep(0.2 + (seed % 4) * 0.4)\n"
    "if seed == 7:\n    raise ValueError(f'seed {seed} diverged at beta={beta}')\n"
    "while beta == 0.5 and seed >= 8 and not os.path.exists('release'):\n"
    "    time.sleep(0.1)\nbeta * seed",
    "open('release', 'w').close()",
]
BULK = ".hipercow-bulk"


def bulk_text(page) -> str:
    return page.locator(BULK).first.inner_text()


def test_a_sweep_of_50_rows_shows_its_states_rows_failures_and_timeline(lab, page):
    from hipercow_magic.core.root import find_root

    folder = lab.project / "sweep"
    folder.mkdir()
    write_notebook(folder / "sweep.ipynb", CELLS)
    open_notebook(page, lab, "project/sweep/sweep.ipynb")
    try:
        run_cell(page, 0)
        run_cell(page, 1)
        run_cell(page, 2)
        bulk = page.locator(BULK).first
        bulk.wait_for()
        page.wait_for_function(  # two still run: the display is live
            "sel => document.querySelector(sel).innerText.includes('48/50 finished')",
            arg=BULK,
            timeout=120_000,
        )
        text = bulk.inner_text()
        assert "43 success" in text and "5 failure" in text and "2 running" in text
        for state in ("success", "failure", "running"):
            assert bulk.locator(f".hipercow-stacked-bar .hipercow-bar-{state}").count() == 1
        widths = bulk.locator(".hipercow-stacked-bar > span").evaluate_all(
            "spans => spans.map(s => s.getBoundingClientRect().width)"
        )
        bar = bulk.locator(".hipercow-stacked-bar").bounding_box()["width"]
        assert abs(widths[0] - bar * 43 / 50) < 2 and abs(widths[1] - bar * 5 / 50) < 2
        for beta in (0.1, 0.2, 0.3, 0.4, 0.5):
            assert f"beta={beta}, seed=7: ValueError: seed 7 diverged at beta={beta}" in text
        assert "ETA ~" in text and "2 left" in text

        table = bulk.locator(".hipercow-bundle-table")
        assert "beta=0.1, seed=0" in table.inner_text()
        assert "rows 1–20 of 50 · page 1 of 3" in table.inner_text()
        assert table.get_by_role("button", name="Retry").count() == 20
        bulk.locator(".jupyter-widget-Collapse-header").filter(has_text="timeline").first.click()
        timeline = bulk.locator("svg.hipercow-timeline")
        timeline.wait_for()
        assert timeline.locator("g.hipercow-timeline-task").count() == 50
        lanes = timeline.locator("g.hipercow-timeline-lane").evaluate_all(
            "gs => gs.map(g => g.dataset.node)"
        )
        assert lanes and set(lanes) <= {"node-1", "node-2", "gpu-3", "gpu-4"}
        bulk.scroll_into_view_if_needed()
        page.evaluate("sel => document.querySelector(sel).scrollIntoView()", BULK)
        screenshots(page, "bundle-widget")
        timeline.scroll_into_view_if_needed()
        screenshots(page, "bundle-widget-timeline")

        table.locator("select").select_option(label="failure (5)")
        page.wait_for_function(
            "() => document.querySelector('.hipercow-bundle-table').innerText"
            ".includes('rows 1–5 of 5')"
        )
        shown = table.inner_text()
        assert "beta=0.3, seed=7" in shown and "beta=0.1, seed=0" not in shown
        page.evaluate("sel => document.querySelector(sel).scrollIntoView()", BULK)
        screenshots(page, "bundle-widget-failures")

        run_cell(page, 3)  # the last tasks end: the display becomes the bundle's record
        record = page.locator(".hipercow-record.hipercow-bulk").first
        record.wait_for(timeout=60_000)
        text = record.inner_text()
        assert "50/50 finished" in text and "45 success" in text and "5 failure" in text
        assert "beta=0.4, seed=7: ValueError: seed 7 diverged at beta=0.4" in text
        assert record.locator("button").count() == 0
        record.locator("details.hipercow-timeline > summary").click()
        record_timeline = record.locator("svg.hipercow-timeline")
        record_timeline.wait_for()
        assert record_timeline.locator("g.hipercow-timeline-task").count() == 50
        record.locator("details.hipercow-tasks > summary").click()
        assert record.locator("table.hipercow-bundle-table tbody tr").count() == 50
        page.evaluate(
            "() => document.querySelector('.hipercow-record.hipercow-bulk').scrollIntoView()"
        )
        screenshots(page, "bundle-record")
    finally:
        stop_local_scheduler(find_root(str(folder)))
