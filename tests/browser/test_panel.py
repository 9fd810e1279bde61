"""The hipercow side panel in a real JupyterLab and Chromium, with tasks from a real notebook."""

from __future__ import annotations

import contextlib
import itertools
import re
import time

from notebook_ui import (
    open_lab,
    open_notebook,
    run_cell,
    screenshot,
    screenshots,
    show_panel,
    use_theme,
    write_notebook,
)

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
    times = row.locator(".hc-times").inner_text()
    assert re.search(r"waited [0-9.]+s · ran for [0-9.]+s", times), times
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


def test_cancel_from_the_panel_cancels_a_running_task(lab, page):
    from hipercow_magic import api

    open_notebook(page, lab, "project/submit.ipynb")
    show_panel(page)
    task = task_id(run_cell(page, 1))
    assert wait_for_badge(page, task, ["running"], timeout=60_000) == "running"
    status_bar = page.locator(".hc-status-item")
    page.wait_for_function(
        "() => /1 running/.test(document.querySelector('.hc-status-item').textContent)"
    )
    assert re.search(r"hipercow: 1 running, 0 queued", status_bar.inner_text())
    screenshots(page, "panel-before-cancel")

    page.locator(f'.hc-task[data-id="{task}"] .hc-action-cancel').click()
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
        "() => /0 running, 0 queued/.test(document.querySelector('.hc-status-item').textContent)"
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
