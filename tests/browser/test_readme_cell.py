"""The README's first cells, exactly as the README shows them, in a real JupyterLab and
Chromium: a newcomer's first task runs and its values arrive in the notebook.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys

from notebook_ui import open_notebook, run_cell, screenshots, show_panel, write_notebook
from processes import stop_local_scheduler

TESTS = pathlib.Path(__file__).resolve().parents[1]
CHECK = "print(len(results), sorted(summary), round(summary['mean'], 1))"


def readme_cells() -> list[str]:
    """The README's opening code cells (those before its first section), read as the
    examples test reads them."""
    spec = importlib.util.spec_from_file_location(
        "docs_examples", TESTS / "local" / "test_docs_examples.py"
    )
    docs = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    readme = docs.TOP / "README.md"
    lines = readme.read_text().splitlines()
    first_section = next(n for n, line in enumerate(lines, 1) if line.startswith("## "))
    return [
        b.code.rstrip("\n")
        for b in docs.blocks(readme)
        if b.lang == "python" and b.line < first_section
    ]


def test_the_readme_cells_run_as_written(lab, page):
    cells = readme_cells()
    assert cells[0].startswith("%load_ext hipercow_magic")
    assert "def simulate" in cells[1] and "def summarise" in cells[1]
    assert cells[2].startswith("%%hipercow --cores 2 --parallel parallel")
    assert len(cells) == 4 and "summary" in cells[3]
    folder = lab.project.parent / "readme"
    folder.mkdir()
    write_notebook(folder / "first.ipynb", [*cells, CHECK])
    try:
        open_notebook(page, lab, "readme/first.ipynb")
        out = run_cell(page, 0)
        assert "Initialised hipercow at '.'" in out and "Configured hipercow" in out, out
        run_cell(page, 1)
        run_cell(page, 2)  # returns at once: the task runs on the cluster
        # the README's next cell reads `summary`: it waits for the task, then prints it
        printed = run_cell(page, 3, timeout=120_000)
        assert re.search(r"\{'n': 10, 'mean': 0\.\d+\}", printed), printed
        widget = page.locator(".hipercow-task").first
        widget.wait_for(timeout=30_000)
        page.wait_for_function(
            """() => { const b = document.querySelector('.hipercow-task .hipercow-badge');
                       return b && b.textContent === 'success'; }""",
            timeout=120_000,
        )
        text = widget.inner_text()
        assert re.search(r"captured: simulate \(.+\), summarise \(.+\)", text), text
        assert "set in the notebook: results, summary" in text.replace("\n", " "), text
        assert run_cell(page, len(cells)).strip() == "10 ['mean', 'n'] 0.5"
        show_panel(page)
        page.wait_for_function(
            """() => [...document.querySelectorAll('.hc-task .hc-badge')]
                       .some(b => b.textContent === 'success')"""
        )
        for path in screenshots(page, "readme-cell"):
            assert path.stat().st_size > 10_000
    finally:
        from hipercow_magic.core.root import Root

        if (folder / "hipercow").is_dir():
            stop_local_scheduler(Root(str(folder)))
