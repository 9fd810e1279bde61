"""Driving JupyterLab's notebook and the hipercow panel from playwright."""

from __future__ import annotations

import pathlib
import re

SCREENSHOTS = pathlib.Path(__file__).resolve().parents[2] / "screenshots"


def screenshot(page, name: str) -> pathlib.Path:
    """Save a screenshot under screenshots/ (kept by CI as an artifact)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def use_theme(page, theme: str) -> None:
    """Switch JupyterLab to its light or dark theme, as a user does (Settings > Theme)."""
    name = THEMES[theme]
    if page.evaluate("() => document.body.dataset.jpThemeName") != name:
        page.locator(".lm-MenuBar-item", has_text="Settings").click()
        page.locator(".lm-Menu-item", has_text=re.compile(r"^Theme")).hover()
        page.locator(".lm-Menu-item").get_by_text(name, exact=True).click()
        page.wait_for_function("name => document.body.dataset.jpThemeName === name", arg=name)
    page.locator("#jupyterlab-splash").wait_for(state="detached")


def screenshots(page, name: str) -> list[pathlib.Path]:
    """Screenshots `<name>-light.png` and `<name>-dark.png`; JupyterLab is left light."""
    paths = []
    for theme in ("light", "dark"):
        use_theme(page, theme)
        paths.append(screenshot(page, f"{name}-{theme}"))
    use_theme(page, "light")
    return paths


def write_notebook(path: pathlib.Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, str(path))


def open_lab(page, lab, folder: str) -> None:
    """Open JupyterLab with its file browser in `folder`."""
    page.goto(lab.url(f"/lab/tree/{folder}", token=lab.token))
    page.locator(".jp-SideBar").first.wait_for()


def open_notebook(page, lab, relative: str) -> None:
    """Open a notebook and wait until its kernel has started and is idle."""
    page.goto(lab.url(f"/lab/tree/{relative}", token=lab.token))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.get_by_text(re.compile(r"\|\s*Idle")).first.wait_for(timeout=60_000)


def run_cell(page, index: int, timeout: float = 60_000) -> str:
    """Run the notebook's cell `index` (0-based) with Shift+Enter; return its output text."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    page.wait_for_function(
        "el => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle(), timeout=timeout
    )
    return cell.locator(".jp-OutputArea").inner_text()


def show_panel(page) -> None:
    """Open the hipercow side panel (if it is not open already)."""
    panel = page.locator("#hipercow-tasks")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="hipercow-tasks"]').click()
    panel.wait_for(state="visible")
