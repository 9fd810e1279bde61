"""The side panel's bundles in a real JupyterLab and Chromium: a sweep of 50 rows with
failures is one row with its stacked bar; opened, its tasks by their parameters with the
failures' error lines; Retry failed, the timeline, and cancelling several tasks at once.
"""

from __future__ import annotations

import contextlib

import pytest
from notebook_ui import open_lab, screenshot, screenshots, show_panel, use_theme
from processes import stop_local_scheduler

from hipercow_magic.core.task import ran_on

FAILING = (3, 10, 17, 24, 31, 38, 45)  # k % 7 == 3


def gated(folder, code: str) -> str:
    """Task code that runs `code` once the file 'go' exists in `folder`."""
    go = str(folder / "go")
    return f"import os, time\nwhile not os.path.exists({go!r}):\n    time.sleep(0.05)\n{code}"


@pytest.fixture(scope="module")
def sweep(lab):
    """A root `sweep` beside the project: a bundle of 50 finished tasks, 7 failed, and a
    task of its own; the failures succeed once the file 'fixed' exists.
    """
    from hipercow_magic import api

    folder = lab.project.parent / "sweep"
    folder.mkdir()
    fixed = str(folder / "fixed")
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(None):
        patch.chdir(folder)
        root = api.hipercow_init(".", driver="local", idle_timeout=120)
        bundle = api.task_create_bulk_call(
            lambda k, fixed=fixed: (
                k * 10 if __import__("os").path.exists(fixed) else 1 / (k % 7 - 3)
            ),
            list(range(50)),
            bundle_name="beta_sweep",
        )
        assert not bundle.wait(timeout=300, fail_early=False)
        alone = api.task_create_expr("'alone'", namespace={}, name="alone")
        assert alone.wait(timeout=60)
    yield {"folder": folder, "root": root, "bundle": bundle, "alone": alone}
    stop_local_scheduler(root)


def test_a_sweep_is_one_bundle_row_opened_by_its_parameters_with_errors(lab, page, sweep):
    from hipercow_magic import api

    open_lab(page, lab, "sweep")
    show_panel(page)
    row = page.locator('.hc-bundle[data-bundle="beta_sweep"]')
    row.wait_for()
    assert page.locator(".hc-bundle").count() == 1
    assert row.locator(".hc-bundle-size").inner_text() == "50 tasks"
    assert row.locator(".hc-bundle-counts").inner_text() == "43 success · 7 failure"
    parts = row.locator(".hc-stack-part")
    assert [parts.nth(k).get_attribute("title") for k in range(parts.count())] == [
        "43 success",
        "7 failure",
    ]
    widths = [parts.nth(k).bounding_box()["width"] for k in range(2)]
    assert widths[0] > 4 * widths[1]  # each part as wide as its share
    # the task outside the bundle is listed as before; the bundle's are not
    loose = page.locator(".hc-list > .hc-task")
    assert [loose.nth(k).get_attribute("data-id") for k in range(loose.count())] == [
        sweep["alone"].id
    ]
    assert page.locator(".hc-updated").inner_text().startswith("last updated ")
    screenshots(page, "panel-bundle")

    # Opened: one row per task, named by its parameters, failures with their error line.
    row.locator(".hc-bundle-toggle").click()
    tasks = row.locator(".hc-bundle-tasks .hc-task")
    tasks.nth(49).wait_for()
    assert tasks.count() == 50
    names = [tasks.nth(k).locator(".hc-name").inner_text() for k in range(50)]
    assert names == [f"k={k}" for k in range(50)]
    failed = row.locator('.hc-bundle-tasks .hc-task[data-status="failure"]')
    assert [failed.nth(k).locator(".hc-name").inner_text() for k in range(7)] == [
        f"k={k}" for k in FAILING
    ]
    errors = {failed.nth(k).locator(".hc-error-line").inner_text() for k in range(7)}
    assert errors == {"ZeroDivisionError: division by zero"}
    assert row.locator('.hc-task[data-status="success"] .hc-error-line').count() == 0
    first = sweep["bundle"].ids[0]
    node = ran_on(sweep["root"], first)
    assert row.locator(f'.hc-task[data-id="{first}"] .hc-node').inner_text() == f"ran on {node}"
    screenshots(page, "panel-bundle-open")

    # The timeline: each task waited then ran, in a lane per node, coloured by its status.
    row.locator(".hc-bundle-timeline").click()
    svg = row.locator(".hc-timeline-bundle svg")
    svg.wait_for()
    drawn = svg.locator(".hc-tl-task")
    assert drawn.count() == 50
    assert svg.locator(".hc-tl-task.hc-status-failure").count() == 7
    nodes = {ran_on(sweep["root"], i) for i in sweep["bundle"].ids}
    labels = {svg.locator(".hc-tl-label").nth(k).text_content() for k in range(len(nodes))}
    assert labels == nodes
    ran = svg.locator(".hc-tl-task.hc-status-success .hc-tl-ran").first
    fills = {}
    for theme in ("light", "dark"):
        use_theme(page, theme)
        fills[theme] = ran.evaluate("el => getComputedStyle(el).fill")
        screenshot(page, f"panel-bundle-timeline-{theme}")
    use_theme(page, "light")
    assert fills["light"] != fills["dark"]  # the theme's own success colour
    row.locator(".hc-bundle-timeline").click()  # hides it
    svg.wait_for(state="detached")

    # Retry failed: the failed rows run again (they succeed now) under the same parameters.
    (sweep["folder"] / "fixed").touch()
    row.locator(".hc-bundle-retry-failed").click()
    page.wait_for_function(
        """() => document.querySelector('.hc-bundle[data-bundle="beta_sweep"] .hc-bundle-counts')
                   ?.textContent === '50 success'""",
        timeout=120_000,
    )
    assert api.task_status(sweep["bundle"].ids, root=str(sweep["folder"])) == ["success"] * 50
    retried = row.locator('.hc-bundle-tasks .hc-task[data-status="success"]')
    assert retried.count() == 50
    assert row.locator(".hc-error-line").count() == 0
    assert row.locator(".hc-bundle-retry-failed").is_disabled()
    assert row.locator(".hc-bundle-tasks .hc-name").nth(3).inner_text() == "k=3"
    assert page.locator(".hc-list > .hc-task").count() == 1  # retries stay in their bundle
    screenshots(page, "panel-bundle-retried")


def test_several_tasks_are_selected_and_cancelled_at_once(lab, page, sweep):
    from hipercow_magic import api

    folder = sweep["folder"]
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(None):
        patch.chdir(folder)
        ids = [
            api.task_create_expr(gated(folder, str(k)), namespace={}, name=f"gated-{k}").id
            for k in range(3)
        ]
        api.task_wait(ids[0], timeout=60, for_start=True)
    open_lab(page, lab, "sweep")
    show_panel(page)
    for task in ids:
        page.locator(f'.hc-task[data-id="{task}"]').wait_for()
    # the root's timeline: the running tasks on their node, the one waiting for a core apart
    queued = page.locator(f'.hc-task[data-id="{ids[2]}"]')
    assert queued.locator(".hc-badge").inner_text() == "submitted"
    assert queued.locator(".hc-pending").inner_text().startswith("waiting for 1 free core")
    page.locator(".hc-root-timeline-toggle").click()
    chart = page.locator(".hc-timeline-root svg")
    chart.locator(f'.hc-tl-task[data-id="{ids[2]}"]').wait_for(state="attached")
    labels = chart.locator(".hc-tl-label")
    lanes = {labels.nth(k).text_content() for k in range(labels.count())}
    assert "(waiting)" in lanes and ran_on(sweep["root"], ids[0]) in lanes
    assert chart.locator(f'.hc-tl-task[data-id="{ids[2]}"] .hc-tl-ran').count() == 0
    assert chart.locator(f'.hc-tl-task[data-id="{ids[0]}"] .hc-tl-ran').count() == 1
    # every task of the root (its newest 200), in bundles or not
    assert chart.locator(".hc-tl-task").count() == len(api.task_list(root=str(folder)))
    screenshots(page, "panel-root-timeline")
    page.locator(".hc-root-timeline-toggle").click()
    chart.wait_for(state="detached")
    page.locator(f'.hc-task[data-id="{ids[0]}"] .hc-select').check()
    page.locator(f'.hc-task[data-id="{ids[1]}"] .hc-select').check()
    selection = page.locator(".hc-selection")
    assert selection.locator(".hc-selection-text").inner_text() == "2 tasks selected"
    screenshots(page, "panel-selected")
    selection.locator(".hc-cancel-selected").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "running" in dialog.locator(".jp-Dialog-header").inner_text()
    assert (
        "the work they have done so far is lost" in dialog.locator(".hc-cancel-body").inner_text()
    )
    dialog.get_by_role("button", name="Keep running").click()
    dialog.wait_for(state="detached")
    assert api.task_status(ids[0], root=str(folder)) == "running"
    selection.locator(".hc-cancel-selected").click()
    dialog.get_by_role("button", name="Cancel tasks").click()
    page.wait_for_function(
        """(ids) => ids.every(id => document.querySelector(
                        `.hc-task[data-id="${id}"] .hc-badge`)?.textContent === 'cancelled')""",
        arg=ids[:2],
        timeout=60_000,
    )
    assert api.task_status(ids, root=str(folder))[:2] == ["cancelled", "cancelled"]
    assert api.task_status(ids[2], root=str(folder)) in ("submitted", "running")
    selection.wait_for(state="hidden")
    (folder / "go").touch()
    assert api.task_wait(ids[2], timeout=60, root=str(folder))


def test_the_last_updated_mark_says_when_updates_fail(lab, page, sweep):
    import re

    open_lab(page, lab, "sweep")
    show_panel(page)
    updated = page.locator(".hc-updated")
    updated.get_by_text(re.compile(r"^last updated \d\d:\d\d:\d\d$")).wait_for()
    # the server can't be reached: the mark says so, and when it last heard from it
    page.route("**/hipercow/bundles*", lambda route: route.abort())
    page.locator(".hc-refresh").click()
    failed = re.compile(r"^update failed \d\d:\d\d:\d\d \(last updated \d\d:\d\d:\d\d\)$")
    updated.get_by_text(failed).wait_for()
    assert "hc-updated-failed" in updated.get_attribute("class")
    assert "Cannot reach the Jupyter server" in page.locator(".hc-panel .hc-error").inner_text()
    screenshots(page, "panel-update-failed")
    page.unroute("**/hipercow/bundles*")
    page.locator(".hc-refresh").click()
    updated.get_by_text(re.compile(r"^last updated \d\d:\d\d:\d\d$")).wait_for()
    assert "hc-updated-failed" not in updated.get_attribute("class")
