"""Every code example in README.md and docs/*.md runs as written.

Each markdown file's fenced blocks run in order, in a fresh folder, as a reader would type
them: ```python blocks in one IPython shell per file (so `%`/`%%` magics work and names carry
from block to block), ```sh blocks with bash (the `hipercow` command on PATH, `set -e`).
Other fences (```text) are output or synopses and are not run; every fence says which it is.

Two HTML comments, invisible when the markdown is rendered, may stand on the line before a
fence: `<!-- not run: REASON -->` (an example that needs what this machine lacks, e.g.
Slurm; listed and counted by `test_examples_not_run_are_few_and_say_why`) and
`<!-- file: NAME -->` (the block is the content of a file the next examples use).

Run as a script (`python test_docs_examples.py FILE.md`, in an empty folder), this file runs
one markdown file's examples; the tests do that in a child process per file.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import subprocess
import sys
import traceback

TOP = pathlib.Path(__file__).resolve().parent.parent.parent
DOCUMENTS = [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]
RUN = ("python", "sh")
NOT_RUN = ("text",)
MAX_NOT_RUN = 5

# What some examples say they print, checked in their output.
CLAIMS = {
    "README.md": [
        "waiting for task ",  # the headline cell's values: the next cell waits for them
        "{'n': 10, 'mean': 0.",
    ],
    "parallel.md": ["Out[2]: (4, 2)"],
    "pipelines.md": [
        "cancelled - upstream task ",
        "True True\nFalse\n",
        "because: the value of `beta` changed",
    ],
    "right-sizing.md": [
        "Suggested resources for bundle 'sweep': 1 core, queue alltasks, ",
        "False out of memory (peak ",
        "True 300000000\nfailure then success\n",
        "True '0,1'\n",
        "  • peak memory ",  # `hipercow task suggest sweep` on a terminal
    ],
    "remote.md": [
        "[0, 10, 20, 30, 40, 50, 60, 70, 80, 90]",
        "over SSH to hipercow-cluster:",
        "── remote root of driver 'local' ──",
    ],
    "environments.md": [
        "Installed 2 packages into the environment: cowsay 6.1, tomli 2.0.1",
        "Changed (1):\n  • cowsay 6.0 → 6.1",
        "The current installation does not match this request",
    ],
}

_FENCE = re.compile(r"^```(\S*)\s*$")
_NOT_RUN = re.compile(r"^<!-- not run: (.+?) -->$")
_FILE = re.compile(r"^<!-- file: (\S+) -->$")


@dataclasses.dataclass
class Block:
    """One fenced block of a markdown file."""

    path: pathlib.Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    not_run: str | None = None  # why it is not run
    file: str | None = None  # the file it is the content of

    @property
    def where(self) -> str:
        """'docs/x.md:12'."""
        path = self.path.resolve()
        return f"{path.relative_to(TOP) if path.is_relative_to(TOP) else path}:{self.line}"


def blocks(path: pathlib.Path) -> list[Block]:
    """The fenced blocks of a markdown file, with the markers before each."""
    out = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and lines[i] != "```":
            i += 1
        before = lines[start - 1] if start else ""
        not_run, file = _NOT_RUN.match(before), _FILE.match(before)
        out.append(
            Block(
                path,
                start + 1,
                fence.group(1),
                "\n".join(lines[start + 1 : i]) + "\n",
                not_run=not_run and not_run.group(1),
                file=file and file.group(1),
            )
        )
        i += 1
    return out


# ---- the child process: run one file's examples -------------------------------------------
def _run_python(shell, block: Block) -> None:
    result = shell.run_cell(block.code, store_history=True)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise RuntimeError(f"{block.where}: the example failed: {error!r}")


def _run_sh(block: Block) -> None:
    sys.stdout.flush()
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code], timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{block.where}: the commands failed with status {proc.returncode}")


def run_examples(path: pathlib.Path) -> None:
    """Run every example of a markdown file in order, in the working directory."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="NoColor")
    ran = 0
    for block in blocks(path):
        if block.file:
            target = pathlib.Path(block.file)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code)
        elif block.lang in RUN and not block.not_run:
            print(f"\n──── {block.where} ({block.lang})\n{block.code}──── output:", flush=True)
            (_run_sh(block) if block.lang == "sh" else _run_python(shell, block))
            ran += 1
    sys.stdout.flush()
    print(f"\nRAN {ran} examples of {path.name}")


# ---- the tests ----------------------------------------------------------------------------
def _stop_schedulers(folder: pathlib.Path) -> None:
    from processes import stop_local_scheduler

    from hipercow_magic.core.root import Root

    for marker in folder.rglob("hipercow/config"):
        stop_local_scheduler(Root(str(marker.parent.parent)))


def _run_document(document: pathlib.Path, folder: pathlib.Path) -> str:
    from processes import source_environment

    env = source_environment(
        {"HIPERCOW_KEY_FILE": str(folder.parent / "key"), "PYTHONUNBUFFERED": "1"}
    )
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    try:
        proc = subprocess.run(
            [sys.executable, __file__, str(document)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=1200,
            check=False,
        )
    finally:
        _stop_schedulers(folder)
    assert proc.returncode == 0, f"examples of {document.name} failed:\n{proc.stdout}"
    return proc.stdout


def _params():
    import pytest

    return pytest.mark.parametrize(
        "document", DOCUMENTS, ids=[str(d.relative_to(TOP)) for d in DOCUMENTS]
    )


@_params()
def test_examples_run_as_written(document, tmp_path):
    """A document's examples run in order in an empty folder, and each one succeeds."""
    if document.name == "remote.md":  # its cluster is the project's sshd and Slurm
        from processes import require_slurm, require_sshd

        require_sshd()
        require_slurm()
    expected = [b for b in blocks(document) if b.lang in RUN and not b.not_run and not b.file]
    folder = tmp_path / "work"
    folder.mkdir()
    out = _run_document(document, folder)
    assert f"RAN {len(expected)} examples of {document.name}" in out, out
    for claim in CLAIMS.get(document.name, []):
        assert claim in out, f"{document.name}: {claim!r} is not in the output:\n{out}"


def test_every_fence_says_what_it_is():
    """Each fenced block is an example (python, sh) or output (text), so none is skipped
    by accident."""
    unlabelled = [b.where for d in DOCUMENTS for b in blocks(d) if b.lang not in RUN + NOT_RUN]
    assert not unlabelled, f"fences without python, sh or text: {unlabelled}"


def test_examples_not_run_are_few_and_say_why(capsys):
    """The examples this machine can't run are marked, listed with their reason, and few."""
    skipped = [b for d in DOCUMENTS for b in blocks(d) if b.not_run]
    with capsys.disabled():
        print(f"\n{len(skipped)} examples not run:")
        for b in skipped:
            print(f"  {b.where}: {b.not_run}")
    assert all(b.lang in RUN for b in skipped)
    assert len(skipped) <= MAX_NOT_RUN, [b.where for b in skipped]
    run = [b for d in DOCUMENTS for b in blocks(d) if b.lang in RUN and not b.not_run]
    assert len(run) > 4 * len(skipped)


def test_every_picture_is_there():
    """Each image a document shows is a file of the checkout (docs/images/, refreshed by
    scripts/screenshots.sh)."""
    pictures = [
        (d, m.group(1))
        for d in DOCUMENTS
        for m in re.finditer(r"!\[[^\]]*\]\(([^)]+)\)", d.read_text())
    ]
    assert pictures
    missing = [f"{d.name}: {p}" for d, p in pictures if not (d.parent / p).is_file()]
    assert not missing, missing


if __name__ == "__main__":
    try:
        run_examples(pathlib.Path(sys.argv[1]))
    except Exception:
        traceback.print_exc()
        sys.exit(1)
