"""The hipercow side panel in a real JupyterLab and Chromium, with tasks from a real notebook."""

from __future__ import annotations

import contextlib
import itertools
import re
import time

from notebook_ui import (
    THEMES,
    open_lab,
    open_notebook,
    run_cell,
    screenshot,
    screenshots,
    show_panel,
    use_theme,
    write_notebook,
)
from processes import stop_local_scheduler

from hipercow_magic.core.format import clock_time, pretty_dt
from hipercow_magic.core.root import find_root
from hipercow_magic.core.status import STATUSES
from hipercow_magic.core.task import read_marker

SUBMIT = """\
from hipercow_magic.api import task_create_expr
code = "import time\\nprint('first line', flush=True)\\ntime.sleep(8)\\nprint('second line', flush=True)\\n42"
task = task_create_expr(code, namespace={}, name="from-notebook")
print("ID=" + task.id)
"""

SUBMIT_LONG = """\
long_task = task_create_expr("import time\\ntime.sleep(600)", namespace={}, name="to-cancel")
print("ID=" + long_task.id)
"""

ERROR_COLOUR = """() => { const probe = document.createElement('span');
                            probe.style.color = 'var(--jp-error-color1)';
                            document.body.append(probe);
                            const colour = getComputedStyle(probe).color;
                            probe.remove();
                            return colour; }"""


def task_id(output: str) -> str:
    return re.search(r"ID=([0-9a-f]{32})", output).group(1)


def badge(page, task):
    return page.locator(f'.hc-task[data-id="{task}"] .hc-badge')


def wait_for_badge(page, task, statuses, timeout=60_000):
    page.wait_for_function(
        """([id, wanted]) => {
             const b = document.querySelector(`.hc-task[data-id="${id}"] .hc-badge`);
             return b !== null && wanted.includes(b.textContent);
           }""",
        arg=[task, statuses],
        timeout=timeout,
    )
    return badge(page, task).inner_text()


def test_panel_follows_a_notebook_task_to_success_and_tails_its_log(lab, page):
    from hipercow_magic import api

    write_notebook(lab.project / "submit.ipynb", [SUBMIT, SUBMIT_LONG])
    open_notebook(page, lab, "project/submit.ipynb")
    show_panel(page)
    task = task_id(run_cell(page, 0))
    cluster = page.locator(".hc-cluster")
    cluster.get_by_text(re.compile(r"local: 1 node, up to \d+ cores")).wait_for()

    # The new task appears without a reload, queued or running.
    wait_for_badge(page, task, ["submitted", "running"], timeout=30_000)
    row = page.locator(f'.hc-task[data-id="{task}"]')
    assert "from-notebook" in row.locator(".hc-name").inner_text()
    assert wait_for_badge(page, task, ["running"], timeout=30_000) == "running"
    screenshots(page, "panel-running")

    # The log view tails the log while the task runs...
    row.locator(".hc-action-log").click()
    page.wait_for_function(
        """() => document.querySelector('.hc-log')?.textContent.includes('first line')
                 && document.querySelector('.hc-log-view .hc-view-header')
                      .dataset.status === 'running'"""
    )
    screenshots(page, "panel-log-running")

    # ...and the badge turns success, with waited and ran-for, without a reload.
    assert wait_for_badge(page, task, ["success"], timeout=60_000) == "success"
    info = api.task_info(task, root=str(lab.project))
    times = row.locator(".hc-times").inner_text()
    assert times == f"waited {pretty_dt(info.waited)} · ran for {pretty_dt(info.ran_for)}"
    node = read_marker(find_root(str(lab.project)), task, "running")["node"]
    assert row.locator(".hc-node").inner_text() == f"ran on {node}"
    clocks = [f"{k} {clock_time(info.times[k])}" for k in ("created", "started", "finished")]
    assert row.locator(".hc-clock").inner_text() == " · ".join(clocks)
    counts = page.locator('.hc-count[data-status="success"] .hc-count-number').inner_text()
    assert int(counts) >= 1
    page.wait_for_function(
        """() => document.querySelector('.hc-log-view .hc-view-header')
                   .textContent.endsWith('· success')"""
    )
    assert "first line\nsecond line" in page.locator(".hc-log").inner_text()
    screenshots(page, "panel-log")

    # Info shows the task's data.
    row.locator(".hc-action-info").click()
    info = page.locator(".hc-info-view")
    info.locator(".hc-info-text", has_text="from-notebook").wait_for()
    assert "success" in info.locator(".hc-info-text").inner_text()
    info.locator("summary").click()
    assert info.locator("th", has_text="status").first.is_visible()
    screenshots(page, "panel-info")


def test_cancel_from_the_panel_asks_first_then_cancels_a_running_task(lab, page):
    from hipercow_magic import api

    open_notebook(page, lab, "project/submit.ipynb")
    show_panel(page)
    task = task_id(run_cell(page, 1))
    assert wait_for_badge(page, task, ["running"], timeout=60_000) == "running"
    status_bar = page.locator(".hc-status-item")
    page.wait_for_function(
        "() => /1 running/.test(document.querySelector('.hc-status-item').textContent)"
    )
    assert status_bar.inner_text() == "hipercow: 1 running, 0 submitted"
    screenshots(page, "panel-before-cancel")

    cancel = page.locator(f'.hc-task[data-id="{task}"] .hc-action-cancel')
    dialog = page.locator(".jp-Dialog")
    # Keep running: nothing happens to the task
    for theme in THEMES:  # (the theme can't be switched while the dialog is open)
        use_theme(page, theme)
        cancel.click()
        dialog.wait_for()
        header = dialog.locator(".jp-Dialog-header").inner_text()
        assert header == f"Cancel running task {task[:8]}?"
        body = dialog.locator(".hc-cancel-body").inner_text()
        assert body.startswith(f"Task 'to-cancel' ({task[:8]}) has been running on ")
        assert "Cancelling it stops it now: its processes are killed" in body
        screenshot(page, f"panel-cancel-dialog-{theme}")
        dialog.get_by_role("button", name="Keep running").click()
        dialog.wait_for(state="detached")
        assert api.task_status(task, root=str(lab.project)) == "running"
    use_theme(page, "light")
    assert badge(page, task).inner_text() == "running"
    # Cancel task: it is stopped
    cancel.click()
    dialog.get_by_role("button", name="Cancel task").click()
    assert wait_for_badge(page, task, ["cancelled"], timeout=30_000) == "cancelled"
    assert api.task_status(task, root=str(lab.project)) == "cancelled"
    page.locator(f'.hc-task[data-id="{task}"] .hc-action-retry').wait_for()
    page.wait_for_function(
        "() => /0 running/.test(document.querySelector('.hc-status-item').textContent)"
    )
    screenshots(page, "panel-cancelled")


def test_filters_show_only_tasks_with_the_chosen_status(lab, page):
    open_lab(page, lab, "project")
    show_panel(page)
    page.locator('.hc-count[data-status="cancelled"]').click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.hc-task .hc-badge')]
                   .every(b => b.textContent === 'cancelled')
                 && document.querySelectorAll('.hc-task').length === 1"""
    )
    page.locator(".hc-count", has_text="all").click()
    deadline = time.monotonic() + 30
    while page.locator(".hc-task").count() < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert page.locator(".hc-task").count() == 2


def test_an_idle_panel_polls_at_most_once_every_10_seconds(lab, page):
    open_lab(page, lab, "project")
    show_panel(page)
    page.wait_for_function(
        "() => /0 running, 0 submitted/.test(document.querySelector('.hc-status-item').textContent)"
    )
    polls = []
    page.on("request", lambda r: "/hipercow/tasks" in r.url and polls.append(time.monotonic()))
    time.sleep(25)
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(polls) <= 3, polls
    assert all(gap >= 9.5 for gap in gaps), gaps


def test_server_errors_are_shown_in_the_panel(lab, page):
    import shutil

    from hipercow_magic import api

    other = lab.project.parent / "other"
    other.mkdir()
    with contextlib.redirect_stdout(None):
        api.hipercow_init(str(other))
    open_lab(page, lab, "project")
    show_panel(page)
    page.locator(".hc-root option[value='other']").wait_for(state="attached")
    # the cluster answer about 'other' (not a late one about 'project', still loading)
    with page.expect_response(
        lambda r: "/hipercow/cluster" in r.url and "root=other" in r.url
    ) as answer:
        page.locator(".hc-root").select_option("other")
    assert answer.value.json() == {"driver": None}
    page.get_by_text("No tasks in this root yet.").wait_for()
    # No driver configured is no error: the cluster line stays away, quietly.
    assert page.locator(".hc-cluster").inner_text() == ""
    assert page.locator(".hc-cluster").is_hidden()
    assert page.locator(".hc-panel .hc-error").is_hidden()
    shutil.rmtree(other / "hipercow")
    page.locator(".hc-refresh").click()
    error = page.locator(".hc-panel .hc-error")
    error.get_by_text("No hipercow root at 'other'").wait_for()
    screenshots(page, "panel-error")
    page.locator(".hc-root").select_option("")
    error.wait_for(state="hidden")
    assert page.locator(".hc-root").input_value() == ""


def test_a_long_task_list_is_paged_newest_first(lab, page, monkeypatch):
    from hipercow_magic import api

    many = lab.project.parent / "many"
    many.mkdir()
    monkeypatch.chdir(many)
    with contextlib.redirect_stdout(None):
        api.hipercow_init(".")
        bundle = api.task_create_bulk_expr("x", [{"x": i} for i in range(60)], namespace={})
        api.hipercow_bundle_delete(bundle.name)  # tasks of a bundle are listed under it
    newest_first = api.task_list(root=str(many))
    assert sorted(newest_first) == sorted(bundle.ids)
    open_lab(page, lab, "many")
    show_panel(page)
    pager = page.locator(".hc-pager-text")
    pager.get_by_text("1-50 of 60").wait_for()
    rows = page.locator(".hc-task")
    assert rows.count() == 50
    assert rows.first.get_attribute("data-id") == newest_first[0]
    assert page.locator('.hc-count[data-status="created"] .hc-count-number').inner_text() == "60"
    assert page.locator(".hc-action-cancel").count() == 0  # never submitted: nothing to cancel
    page.locator(".hc-pager button", has_text="Older").click()
    pager.get_by_text("51-60 of 60").wait_for()
    assert [rows.nth(k).get_attribute("data-id") for k in range(rows.count())] == newest_first[50:]
    screenshots(page, "panel-paged")

    # Tasks never submitted wait for nobody: the panel polls this root as an idle one.
    polls = []
    page.on("request", lambda r: "/hipercow/tasks" in r.url and polls.append(time.monotonic()))
    time.sleep(12)
    assert len(polls) <= 2, [b - a for a, b in itertools.pairwise(polls)]


def test_the_cluster_line_says_why_the_cluster_cannot_be_described(lab, page):
    from hipercow_magic import api

    broken = lab.project.parent / "broken"
    broken.mkdir()
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(str(broken), driver="local", idle_timeout=60)
    config = root.config_path("local")
    with open(config) as f:
        good = f.read()
    with open(config, "w") as f:
        f.write("{ not json")
    try:
        open_lab(page, lab, "broken")
        show_panel(page)
        cluster = page.locator(".hc-cluster")
        cluster.get_by_text("Could not describe the cluster: JSONDecodeError: Expecting").wait_for()
        page.get_by_text("No tasks in this root yet.").wait_for()  # the task list still works
        assert "hc-cluster-error" in cluster.get_attribute("class")
        assert cluster.get_attribute("title") == cluster.inner_text()
        font_size = cluster.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
        assert cluster.bounding_box()["height"] < 2.2 * font_size  # one line, however long
        colours = {}
        for theme in ("light", "dark"):
            use_theme(page, theme)
            colours[theme] = cluster.evaluate("el => getComputedStyle(el).color")
            assert colours[theme] == page.evaluate(ERROR_COLOUR)  # the theme's error colour
            screenshot(page, f"panel-cluster-error-{theme}")
        use_theme(page, "light")
        assert colours["light"] != colours["dark"]
    finally:
        with open(config, "w") as f:
            f.write(good)
    page.locator(".hc-refresh").click()
    cluster.get_by_text(re.compile(r"^local: 1 node, up to \d+ cores")).wait_for()
    assert "hc-cluster-error" not in cluster.get_attribute("class")


def test_retry_from_the_panel_runs_a_failed_task_again(lab, page, monkeypatch):
    from processes import stop_local_scheduler

    from hipercow_magic import api

    again = lab.project.parent / "again"
    again.mkdir()
    monkeypatch.chdir(again)
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(".", driver="local", idle_timeout=60)
    try:
        task = api.task_create_expr(
            "import os\nassert os.path.exists('fixed'), 'not fixed yet'", namespace={}
        )
        task.wait(timeout=60)
        open_lab(page, lab, "again")
        show_panel(page)
        assert wait_for_badge(page, task.id, ["failure"]) == "failure"
        (again / "fixed").touch()
        page.locator(f'.hc-task[data-id="{task.id}"] .hc-action-retry').click()
        page.wait_for_function(
            """old => { const first = document.querySelector('.hc-task');
                        return first !== null && first.dataset.id !== old; }""",
            arg=task.id,
        )
        retried = page.locator(".hc-task").first.get_attribute("data-id")
        assert api.task_info(retried, follow=False, root=str(again)).data["base"] == task.id
        assert wait_for_badge(page, retried, ["success"], timeout=60_000) == "success"
        assert page.locator(".hc-panel .hc-error").is_hidden()
        assert page.locator(".hc-task").count() == 2
        screenshots(page, "panel-retried")
    finally:
        stop_local_scheduler(root)


def test_an_unreadable_task_is_a_row_saying_why_and_the_others_list(lab, page, monkeypatch):
    from hipercow_magic import api
    from hipercow_magic.core.root import find_root

    folder = lab.project.parent / "unreadable"
    folder.mkdir()
    monkeypatch.chdir(folder)
    with contextlib.redirect_stdout(None):
        api.hipercow_init(".")
        bundle = api.task_create_bulk_expr("x", [{"x": i} for i in range(3)], namespace={})
        api.hipercow_bundle_delete(bundle.name)  # tasks of a bundle are listed under it
    bad = bundle.ids[1]
    with open(find_root(str(folder)).task_file(bad, "data.json"), "w") as f:
        f.write('{"type": "expression", "na')
    open_lab(page, lab, "unreadable")
    show_panel(page)
    rows = page.locator(".hc-task")
    problem = page.locator(f'.hc-task[data-id="{bad}"] .hc-problem')
    problem.wait_for()
    assert sorted(rows.nth(k).get_attribute("data-id") for k in range(rows.count())) == sorted(
        bundle.ids
    )
    assert problem.inner_text().startswith("⚠ unreadable: its data.json is not valid JSON")
    assert page.locator(".hc-problem").count() == 1
    assert badge(page, bad).inner_text() == "created"
    assert page.locator(".hc-error").first.inner_text() == ""
    colours = {}
    for theme in ("light", "dark"):
        use_theme(page, theme)
        colours[theme] = problem.evaluate("el => getComputedStyle(el).color")
        screenshot(page, f"panel-unreadable-{theme}")
    use_theme(page, "light")
    assert colours["light"] != colours["dark"]


def test_a_long_log_opens_at_its_tail_and_loads_earlier_pages_on_request(lab, page, monkeypatch):
    from hipercow_magic import api
    from hipercow_magic.core.root import find_root

    monkeypatch.chdir(lab.project)
    with contextlib.redirect_stdout(None):
        task = api.task_create_expr("1", namespace={}, name="long-log")
        assert task.wait(timeout=60)
    lines = [f"line {k:07d} " + "y" * 80 for k in range(10_000)]  # ~0.9 MB: 4 pages
    with open(find_root(str(lab.project)).task_file(task.id, "log"), "w") as f:
        f.write("\n".join(lines) + "\n")
    open_lab(page, lab, "project")
    show_panel(page)
    page.locator(f'.hc-task[data-id="{task.id}"] .hc-action-log').click()
    view = page.locator(f"#hipercow-log-{task.id}")
    log = view.locator(".hc-log")
    log.get_by_text(lines[-1]).wait_for()
    earlier = view.locator(".hc-log-earlier")
    earlier.wait_for(state="visible")
    shown = log.inner_text()
    assert lines[0] not in shown and len(shown.encode()) <= 256 * 1024
    assert shown.startswith("line ")  # the tail starts at a whole line
    assert re.fullmatch(r"\d+ KB earlier in the log not shown\. Load earlier", earlier.inner_text())
    screenshots(page, "panel-log-tail")
    for _ in range(3):
        before = len(log.inner_text())
        earlier.locator("button").click()
        page.wait_for_function(
            """([id, n]) => document.querySelector(`#hipercow-log-${id} .hc-log`)
                              .textContent.length > n""",
            arg=[task.id, before],
        )
    earlier.wait_for(state="hidden")  # the whole log is shown: nothing earlier
    assert log.inner_text() == "\n".join(lines) + "\n"
    screenshots(page, "panel-log-all")


# A tab whose polls are stopped (as when it is hidden): only what is under test can make the
# panel look for a root.
STOP_POLLS = """() => { Object.defineProperty(document, 'hidden', {configurable: true,
                                                                   get: () => true});
                        document.dispatchEvent(new Event('visibilitychange')); }"""
RESUME_POLLS = """() => { delete document.hidden;
                          document.dispatchEvent(new Event('visibilitychange')); }"""
NO_ROOT = "No hipercow root here."


def followed(page, key):
    """Wait until the root menu says the panel follows the root `key`."""
    page.locator(".hc-root option", has_text=f"Follow file browser ({key})").wait_for(
        state="attached"
    )


def open_alone(page, lab, notebook):
    """Open a notebook in a workspace of its own: the only notebook open (notebooks of earlier
    tests come back with the default workspace), with its kernel idle.
    """
    workspace = notebook.replace("/", "-").replace(".", "-")
    page.goto(lab.url(f"/lab/workspaces/{workspace}/tree/{notebook}", token=lab.token))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.get_by_text(re.compile(r"\|\s*Idle")).first.wait_for(timeout=60_000)


def test_a_root_made_in_a_notebook_shows_in_the_panel_without_a_reload(lab, page):
    fresh = lab.project.parent / "fresh"
    fresh.mkdir()
    write_notebook(
        fresh / "start.ipynb", ["%load_ext hipercow_magic\n%hipercow init . --driver local"]
    )
    try:
        open_alone(page, lab, "fresh/start.ipynb")
        show_panel(page)
        page.get_by_text(NO_ROOT).wait_for()
        followed(page, "none")
        screenshots(page, "panel-no-root")
        page.evaluate(STOP_POLLS)
        output = run_cell(page, 0)
        assert "fresh" in output
        # the kernel going idle made the panel look again
        followed(page, "fresh")
        page.get_by_text("No tasks in this root yet.").wait_for()
        page.locator(".hc-cluster").get_by_text(re.compile(r"^local: 1 node")).wait_for()
        assert page.get_by_text(NO_ROOT).count() == 0
        page.evaluate(RESUME_POLLS)
        screenshots(page, "panel-root-appears")
    finally:
        if (fresh / "hipercow").exists():
            stop_local_scheduler(find_root(str(fresh)))


def test_refresh_and_the_panel_itself_find_a_root_made_elsewhere(lab, page):
    from hipercow_magic import api

    by_refresh = lab.project.parent / "by-refresh"
    by_itself = lab.project.parent / "by-itself"
    for folder in (by_refresh, by_itself):
        folder.mkdir()

    open_lab(page, lab, "by-refresh")
    show_panel(page)
    page.get_by_text(NO_ROOT).wait_for()
    # the refresh asks about the file browser's folder: once it is there
    page.wait_for_function(
        "() => document.querySelector('.jp-BreadCrumbs')?.textContent.includes('by-refresh')"
    )
    page.evaluate(STOP_POLLS)
    with contextlib.redirect_stdout(None):
        api.hipercow_init(str(by_refresh))
    with page.expect_response(lambda r: "/hipercow/roots?" in r.url) as answer:
        page.locator(".hc-refresh").click()
    assert "path=by-refresh&search=fresh" in answer.value.url
    assert answer.value.json()["current"] == "by-refresh"
    followed(page, "by-refresh")
    page.get_by_text("No tasks in this root yet.").wait_for()
    page.evaluate(RESUME_POLLS)

    # while it shows "no root", the panel looks again by itself now and then
    open_lab(page, lab, "by-itself")
    show_panel(page)
    page.get_by_text(NO_ROOT).wait_for()
    with contextlib.redirect_stdout(None):
        api.hipercow_init(str(by_itself))
    followed(page, "by-itself")
    page.get_by_text("No tasks in this root yet.").wait_for()


def test_a_task_row_turns_success_when_the_task_ends_without_a_refresh_or_timed_poll(
    lab, page, monkeypatch
):
    from hipercow_magic import api

    folder = lab.project.parent / "events"
    folder.mkdir()
    monkeypatch.chdir(folder)
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(".", driver="local", idle_timeout=60)
    gate = "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\n'done'"
    listening = []
    page.on(
        "request",
        lambda r: (
            "/hipercow/changes?" in r.url
            and "root=events" in r.url
            and "since=" in r.url
            and listening.append(r.url)
        ),
    )
    try:
        task = api.task_create_expr(gate, namespace={}, name="gated")
        api.task_wait(task.id, timeout=60, for_start=True)
        open_lab(page, lab, "events")
        show_panel(page)
        assert wait_for_badge(page, task.id, ["running"]) == "running"
        deadline = time.monotonic() + 30
        while not listening and time.monotonic() < deadline:  # waiting for the next change
            page.wait_for_timeout(100)
        assert listening, "the panel never asked the server for changes"
        page.evaluate(STOP_POLLS)  # no timed poll from now on: only the server's answer
        polls = []
        page.on("request", lambda r: "/hipercow/tasks?" in r.url and polls.append(r.url))
        (folder / "go").touch()
        assert wait_for_badge(page, task.id, ["success"], timeout=30_000) == "success"
        assert len(polls) == 1  # the one look the answer asked for
        counts = page.locator('.hc-count[data-status="success"] .hc-count-number')
        assert counts.inner_text() == "1"
    finally:
        page.evaluate(RESUME_POLLS)
        stop_local_scheduler(root)


def widen_panel(page, width=460):
    """Drag the side panel's edge, as a user does, so rows take fewer lines."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(width, y, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "w => document.querySelector('#hipercow-tasks').getBoundingClientRect().width > w",
        arg=width - 100,
    )


SHOWCASE = [
    """\
import hipercow_magic as hc
fit = hc.task_create_expr("sum(range(10))", name="fit-model")
bad = hc.task_create_expr("raise ValueError('rate must be positive')", name="bad-input")""",
    """\
later = hc.task_create_expr("1", name="cancelled-run", resources=hc.hipercow_resources(hold_until="3h"))
hc.task_cancel(later.id)
sim = hc.task_create_expr("import time\\ntime.sleep(600)", name="simulate")
night = hc.task_create_expr("1", name="overnight", resources=hc.hipercow_resources(hold_until="2h"))""",
]


def test_the_panel_shows_every_state_in_hipercow_words_and_cancels_a_submitted_task_at_once(
    lab, page
):
    from hipercow_magic import api

    folder = lab.project.parent / "showcase"
    folder.mkdir()
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(str(folder), driver="local", idle_timeout=120)
    write_notebook(folder / "analysis.ipynb", SHOWCASE)
    try:
        open_alone(page, lab, "showcase/analysis.ipynb")
        show_panel(page)
        for cell in range(len(SHOWCASE)):
            run_cell(page, cell)
        summaries = api.task_summaries(api.task_list(root=root), root=root)
        tasks = {row["name"]: row["id"] for row in summaries}
        wanted = {
            "fit-model": "success",
            "bad-input": "failure",
            "cancelled-run": "cancelled",
            "simulate": "running",
            "overnight": "submitted",
        }
        for name, status in wanted.items():
            assert wait_for_badge(page, tasks[name], [status]) == status
        status_bar = page.locator(".hc-status-item")
        page.wait_for_function(
            "() => document.querySelector('.hc-status-item').textContent"
            " === 'hipercow: 1 running, 1 submitted'"
        )
        # hipercow's own words for states, everywhere: no "queued", no "pending"
        badges = page.locator(".hc-task .hc-badge").all_inner_texts()
        assert sorted(badges) == sorted(wanted.values()) and set(badges) <= set(STATUSES)
        chips = page.locator(".hc-count .hc-count-label").all_inner_texts()
        assert chips == list(STATUSES)
        for text in (page.locator(".hc-panel").inner_text(), status_bar.inner_text()):
            assert not re.search(r"queued|pending", text, re.IGNORECASE), text
        node = read_marker(root, tasks["simulate"], "running")["node"]
        running = page.locator(f'.hc-task[data-id="{tasks["simulate"]}"]')
        assert running.locator(".hc-node").inner_text() == f"on {node}"
        held = page.locator(f'.hc-task[data-id="{tasks["overnight"]}"]')
        assert held.locator(".hc-node").count() == 0  # not started: no node
        assert held.locator(".hc-clock").inner_text().startswith("created ")
        assert "started" not in held.locator(".hc-clock").inner_text()
        widen_panel(page)
        for theme in THEMES:
            use_theme(page, theme)
            colours = [
                page.locator(f".hc-badge.hc-status-{s}").first.evaluate(
                    "el => getComputedStyle(el).backgroundColor"
                )
                for s in ("success", "failure", "running", "submitted")
            ]
            assert len(set(colours)) == 4, colours  # each state its own colour, in each theme
        screenshots(page, "panel")

        # a submitted task has not started: it is cancelled at once, without asking
        held.locator(".hc-action-cancel").click()
        assert wait_for_badge(page, tasks["overnight"], ["cancelled"]) == "cancelled"
        assert page.locator(".jp-Dialog").count() == 0
        assert api.task_status(tasks["simulate"], root=root) == "running"
    finally:
        stop_local_scheduler(root)


def test_durations_and_clock_times_read_as_in_python(lab, page, monkeypatch):
    """The panel writes waited / ran for as `pretty_dt` and clock times as `clock_time` do,
    on the same values: finished tasks whose recorded times are set to chosen spans.
    """
    import json

    from hipercow_magic import api

    folder = lab.project.parent / "formats"
    folder.mkdir()
    monkeypatch.chdir(folder)
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(".", driver="local", idle_timeout=60)
    now = float(int(time.time()))  # whole seconds: the spans below add up exactly
    three_days_ago = now - 3 * 86400
    spans = {  # name: (created, waited, ran for)
        "sub-second": (three_days_ago, 0.35, 4.2),
        "seconds": (three_days_ago + 60, 12, 185),
        "minutes": (now - 7200, 59.96, 3599.7),
        "hours": (now - 3900 - 183600 - 60, 183600, 3900),
        "days": (now - 2 * 86400 - 3 * 3600 - 90, 86400 * 2 + 3 * 3600 + 59, 30),
    }
    try:
        ids = {}
        with contextlib.redirect_stdout(None):
            for name in spans:
                ids[name] = api.task_create_expr("1", namespace={}, name=name).id
            for task in ids.values():
                assert api.task_wait(task, timeout=60)
        for name, (created, waited, ran_for) in spans.items():
            times = {
                "created": created,
                "submitted": created,
                "started": created + waited,
                "finished": created + waited + ran_for,
            }
            with open(root.task_file(ids[name], "times.json"), "w") as f:
                json.dump(times, f)
        open_lab(page, lab, "formats")
        show_panel(page)
        widen_panel(page)
        rows = page.locator(".hc-task")
        page.wait_for_function("() => document.querySelectorAll('.hc-task .hc-times').length === 5")
        seen = set()
        for summary in api.task_summaries(list(ids.values())):
            row = page.locator(f'.hc-task[data-id="{summary["id"]}"]')
            expected = (
                f"waited {pretty_dt(summary['waited'])} · ran for {pretty_dt(summary['ran_for'])}"
            )
            assert row.locator(".hc-times").inner_text() == expected, summary["name"]
            clocks = [f"{k} {clock_time(summary[k])}" for k in ("created", "started", "finished")]
            assert row.locator(".hc-clock").inner_text() == " · ".join(clocks), summary["name"]
            seen.add(expected)
        assert rows.count() == 5
        # the spans cover every form pretty_dt writes
        joined = " ".join(seen)
        for form in ("350ms", "4.2s", "12s", "3m 5s", "2d 3h", "1h 5m", "60s", "59m 59s"):
            assert form in joined, (form, seen)
        old = page.locator(f'.hc-task[data-id="{ids["sub-second"]}"] .hc-clock').inner_text()
        assert re.match(r"created \d{4}-\d\d-\d\d \d\d:\d\d · ", old), old  # not today
        screenshots(page, "panel-formats")
    finally:
        stop_local_scheduler(root)


def test_the_panel_says_when_the_search_for_roots_stopped_early(lab, page):
    import shutil

    many = lab.project.parent / "zz-many-folders"
    for k in range(5100):  # more than one search looks in
        (many / f"d{k:04d}").mkdir(parents=True)
    try:
        note = page.locator(".hc-roots-note")
        deadline = time.monotonic() + 60
        while True:  # a search is shared for 10 s: reload until a fresh one answers
            open_lab(page, lab, "project")
            show_panel(page)
            page.locator(".hc-root option", has_text="project").first.wait_for(state="attached")
            if note.is_visible() or time.monotonic() > deadline:
                break
            time.sleep(2)
        text = note.inner_text()
        assert text.startswith("Stopped looking for hipercow roots after 5,000 folders;"), text
        assert "project" in page.locator(".hc-root").inner_text()  # what was found is listed
        screenshots(page, "panel-roots-note")
    finally:
        shutil.rmtree(many)
