"""Notifications in a real JupyterLab and Chromium: a task ending (success or failure) shows
one, with its name and error line and a button to its log; a bundle shows one when its last
task ends, not one a task; the setting in the Settings Editor switches them off."""

from __future__ import annotations

import contextlib
import re
import time

from notebook_ui import open_lab, screenshots

# Every notification JupyterLab shows on the page, kept (they fade after a few seconds).
RECORD_TOASTS = """() => {
  window.hcToasts = [];
  new MutationObserver(() => {
    for (const toast of document.querySelectorAll('.jp-toastContainer .Toastify__toast')) {
      if (toast.dataset.hcSeen) continue;
      toast.dataset.hcSeen = '1';
      const kind = [...toast.classList].find(c => c.startsWith('jp-Notification-Toast-'));
      const message = toast.querySelector('.jp-toast-message');
      window.hcToasts.push({kind: kind && kind.slice('jp-Notification-Toast-'.length),
                            text: message ? message.textContent : toast.textContent});
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""


NOTIFY = "Notify when a task or bundle ends"
BROWSER = "Browser notifications while the tab is hidden"

# The browser's notifications the page makes, kept; and a tab the test can hide.
BROWSER_NOTIFICATIONS = """
window.hcShown = [];
window.hcAsked = 0;
window.hcHidden = false;
Object.defineProperty(document, 'hidden', {get: () => window.hcHidden});
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    super(title, options);
    window.hcShown.push({title, body: options && options.body});
  }
  static get permission() { return Real.permission; }
  static requestPermission() { window.hcAsked += 1; return Real.requestPermission(); }
};
"""


def toasts(page) -> list[dict]:
    return page.evaluate("() => window.hcToasts")


def wait_for_toast(page, pattern: str, timeout=60_000) -> dict:
    """The first notification whose text matches `pattern` (a regular expression)."""
    page.wait_for_function(
        "p => window.hcToasts.some(t => new RegExp(p).test(t.text))", arg=pattern, timeout=timeout
    )
    return next(t for t in toasts(page) if re.search(pattern, t["text"]))


def set_setting(page, key: str, label: str, value: bool, shot: str | None = None) -> None:
    """Tick or untick a hipercow-magic setting in the Settings Editor, as a user does."""
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Settings Editor").click()
    page.locator(".jp-PluginList-entry", has_text="hipercow-magic").first.click()
    box = page.get_by_label(label)
    if box.is_checked() != value:
        box.click()
    saved = """async key => {
                 const r = await fetch('/lab/api/settings/hipercow-magic:panel');
                 return (await r.json()).settings[key];
               }"""
    deadline = time.monotonic() + 30
    while page.evaluate(saved, key) is not value:  # saved by the Settings Editor
        assert time.monotonic() < deadline, "the Settings Editor did not save the setting"
        page.wait_for_timeout(200)
    if shot:
        screenshots(page, shot)
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Settings").locator(
        ".lm-TabBar-tabCloseIcon"
    ).click()


def test_a_task_or_bundle_ending_shows_one_notification_until_switched_off(lab, page, monkeypatch):
    from hipercow_magic import api

    root = str(lab.project)
    monkeypatch.chdir(root)
    open_lab(page, lab, "project")
    page.evaluate(RECORD_TOASTS)
    page.locator(".hc-status-item").get_by_text("hipercow:").wait_for()
    with contextlib.redirect_stdout(None):
        fine = api.task_create_expr(
            "import time\ntime.sleep(2)\n42", namespace={}, name="fine", root=root
        )
        doomed = api.task_create_expr(
            "import time\ntime.sleep(2)\n1 / 0", namespace={}, name="doomed", root=root
        )
    ok = wait_for_toast(page, rf"task fine \({fine.id[:8]}\) finished")
    assert ok["kind"] == "success"
    failed = wait_for_toast(page, rf"task doomed \({doomed.id[:8]}\) failed")
    assert failed["kind"] == "error"
    assert failed["text"].endswith("failed: ZeroDivisionError: division by zero")

    # The failure's Log button opens the task's log.
    toast = page.locator(".jp-Notification-Toast-error", has_text=doomed.id[:8])
    toast.get_by_role("button", name="Log").click()
    page.locator(".hc-log-view .hc-view-header").get_by_text(doomed.id[:8]).wait_for()

    # A bundle: one notification when its last task ends, none for its tasks.
    with contextlib.redirect_stdout(None):
        sweep = api.task_create_bulk_expr(
            "import time\ntime.sleep(1)\n10 // k",
            [{"k": k} for k in (1, 2, 0, 5, 10)],
            bundle_name="sweep",
            root=root,
        )
    told = wait_for_toast(page, r"bundle sweep finished")
    assert told == {"kind": "error", "text": "bundle sweep finished: 4 succeeded, 1 failed"}
    shown = page.locator(".jp-Notification-Toast-error", has_text="bundle sweep")
    shown.wait_for(state="visible")
    shown.hover()  # once it stands still (its entrance has settled); it stays while hovered
    screenshots(page, "notifications")
    assert [t for t in toasts(page) if "sweep" in t["text"]] == [told]
    assert not [t for t in toasts(page) if any(i[:8] in t["text"] for i in sweep.ids)]

    # Switched off in the Settings Editor: a task ending says nothing...
    set_setting(page, "notifyOnEnd", NOTIFY, False)
    with contextlib.redirect_stdout(None):
        quiet = api.task_create_expr("'shh'", namespace={}, name="quiet", root=root)
        assert api.task_wait(quiet.id, timeout=60)
    page.locator(".hc-status-item").click()  # the panel shows the task's end
    page.locator(f'.hc-task[data-id="{quiet.id}"] .hc-badge').get_by_text("success").wait_for()
    # ...and switched on again, the next end is told (so the quiet one was looked at first).
    set_setting(page, "notifyOnEnd", NOTIFY, True)
    with contextlib.redirect_stdout(None):
        loud = api.task_create_expr("'hello'", namespace={}, name="loud", root=root)
    wait_for_toast(page, rf"task loud \({loud.id[:8]}\) finished")
    assert not [t for t in toasts(page) if "quiet" in t["text"]]


def test_a_hidden_tab_gets_a_browser_notification_once_switched_on(lab, page, monkeypatch):
    from hipercow_magic import api

    root = str(lab.project)
    monkeypatch.chdir(root)
    page.add_init_script(BROWSER_NOTIFICATIONS)
    open_lab(page, lab, "project")
    page.evaluate(RECORD_TOASTS)
    page.locator(".hc-status-item").get_by_text("hipercow:").wait_for()
    assert page.evaluate("() => Notification.permission") == "default"
    set_setting(page, "browserNotifications", BROWSER, True, shot="notification-settings")
    page.wait_for_function("() => window.hcAsked === 1")  # asked when switched on, not before
    page.context.grant_permissions(["notifications"], origin=lab.base)
    assert page.evaluate("() => Notification.permission") == "granted"

    page.evaluate("() => { window.hcHidden = true; }")  # the user went to another tab
    with contextlib.redirect_stdout(None):
        away = api.task_create_expr("1 / 0", namespace={}, name="away", root=root)
    wait_for_toast(page, rf"task away \({away.id[:8]}\) failed")
    assert page.evaluate("() => window.hcShown") == [
        {
            "title": "hipercow",
            "body": f"task away ({away.id[:8]}) failed: ZeroDivisionError: division by zero",
        }
    ]
    page.evaluate("() => { window.hcHidden = false; }")  # back: JupyterLab's own only
    with contextlib.redirect_stdout(None):
        here = api.task_create_expr("2", namespace={}, name="here", root=root)
    wait_for_toast(page, rf"task here \({here.id[:8]}\) finished")
    assert len(page.evaluate("() => window.hcShown")) == 1
    set_setting(page, "browserNotifications", BROWSER, False)
