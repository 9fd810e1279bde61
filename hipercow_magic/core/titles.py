"""Process titles: how ps, htop, top and `pkill` name a task's processes."""

from __future__ import annotations

try:
    from setproctitle import setproctitle as _setproctitle
    from setproctitle import setthreadtitle as _setthreadtitle
except ImportError:  # a node's Python without it: titles stay as they are
    _setproctitle = _setthreadtitle = None


def set_title(title: str, name: str) -> None:
    """Name this process as ps, htop and `pkill -f` see it (its command line), and as top and
    `pkill` see it (its 15-character name).

    The short name must have no spaces: tools that read /proc/PID/stat (Slurm's process
    tracking among them) cannot parse a name with spaces, and would lose the process.
    Where setproctitle is missing (a node's Python without it) nothing changes.

    Args:
        title: the new command line.
        name: the new process name (15 characters at most are kept).
    """
    if " " in name:
        raise ValueError(f"A process name has no spaces: {name!r}")
    if _setproctitle is not None:
        _setproctitle(title)
        _setthreadtitle(name[:15])
