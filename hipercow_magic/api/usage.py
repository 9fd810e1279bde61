"""What tasks used, in words every display shows alike: a running task's live line ('using
1.3 of 4 cores, 1.2 GB of 8 GB'), an ended task's efficiency ('used 1.2 of 4 cores on
average (30%), peak 900 MB of 16 GB (6%)'), and a group's ('used 31% of the cores and 12% of
the memory asked for, across 40 tasks').
"""

from __future__ import annotations

from hipercow_magic.core.root import check_task_id, find_root
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.usage import Usage
from hipercow_magic.engine.retry import follow_one
from hipercow_magic.engine.usage import GB, Efficiency, Totals, efficiencies, totals


def size_text(n: float) -> str:
    """Bytes as a reader takes them in: '820 kB', '900 MB', '1.2 GB', '16 GB' (decimal)."""
    if n < 1e6:
        return f"{n / 1e3:.0f} kB"
    if n < 1e9:
        return f"{n / 1e6:.0f} MB"
    gb = n / 1e9
    text = f"{gb:.0f}" if gb >= 100 else f"{gb:.1f}".removesuffix(".0")
    return f"{text} GB"


def cores_text(cores: float) -> str:
    """Cores asked for, as a whole number where whole ('4'), else with one decimal."""
    return f"{cores:.0f}" if float(cores).is_integer() else f"{cores:.1f}"


def of_cores(cores: float) -> str:
    """'4 cores', '1 core': the cores asked for, after 'of'."""
    return f"{cores_text(cores)} core{'' if cores == 1 else 's'}"


def percent(share: float) -> str:
    """A share as a percentage: 0.304 -> '30%' ('<1%' for a little above nothing)."""
    if 0 < share < 0.005:
        return "<1%"
    return f"{100 * share:.0f}%"


def live_words(found: Efficiency) -> str:
    """A running task's line: 'using 1.3 of 4 cores, 1.2 GB of 8 GB' (its latest reading)."""
    usage, request = found.usage, found.request
    cores = usage.cores_now if usage.cores_now is not None else usage.cores_average
    memory = usage.memory_now if usage.memory_now is not None else usage.memory_peak
    core_part = f"using {cores:.1f} of {of_cores(request.cores)}"
    if not request.cores:
        core_part = f"using {cores:.1f} cores"
    memory_part = size_text(memory)
    if request.memory:
        memory_part += f" of {size_text(request.memory * GB)}"
    return f"{core_part}, {memory_part}"


def ended_words(found: Efficiency) -> str:
    """An ended task's efficiency: 'used 1.2 of 4 cores on average (30%), peak 900 MB of
    16 GB (6%)' (without a share where the request is unknown).
    """
    usage, request = found.usage, found.request
    if request.cores:
        core_part = (
            f"used {usage.cores_average:.1f} of {of_cores(request.cores)} on average "
            f"({percent(found.cores_share)})"
        )
    else:
        core_part = f"used {usage.cores_average:.1f} cores on average"
    memory_part = f"peak {size_text(usage.memory_peak)}"
    if request.memory:
        memory_part += f" of {size_text(request.memory * GB)} ({percent(found.memory_share)})"
    words = f"{core_part}, {memory_part}"
    if usage.running:  # the task ended before its final figures were written
        words += " (its last reading)"
    return words


def efficiency_words(found: Efficiency) -> str | None:
    """A task's usage in words: the live line while it runs, its efficiency once it has
    ended; None when nothing was measured.
    """
    if found.usage is None:
        return None
    if found.status in TERMINAL or not found.usage.running:
        return ended_words(found)
    return live_words(found)


def usage_words(root, task_id: str) -> str | None:
    """What a task uses or used, in one line, as every display shows it.

    Args:
        root: the hipercow root (a path, or None to find it from the working directory).
        task_id: the task's id.

    Returns:
        While it runs, 'using 1.3 of 4 cores, 1.2 GB of 8 GB' ('1.2 GB' alone when it asked
        for no memory); once it has ended, 'used 1.2 of 4 cores on average (30%), peak 900
        MB of 16 GB (6%)'; None when nothing was measured.
    """
    return usage_reading(root, task_id)[0]


def usage_reading(root, task_id: str) -> tuple[str | None, bool]:
    """A task's usage in words (see `usage_words`), and whether those are its final figures
    (False while it runs, and for an ended task whose final figures are not written yet).
    """
    found = efficiencies(find_root(root), [check_task_id(task_id)])[0]
    return efficiency_words(found), found.usage is not None and not found.usage.running


def usage_figures(ids: list[str], root=None, statuses=None) -> list[Efficiency]:
    """Each task's figures against its request, in the order of `ids` (one driver call
    per driver for the tasks still active; see `engine.usage.efficiencies`).
    """
    return efficiencies(find_root(root), list(ids), statuses)


def group_words(found: list[Efficiency]) -> str | None:
    """What a group of tasks used of what they asked for, in words (see `totals_words`)."""
    return totals_words(totals(found))


def totals_words(found: Totals | None) -> str | None:
    """A group's efficiency: 'used 31% of the cores and 12% of the memory asked for, across
    40 tasks' (with the highest peak where no task asked for memory); None without figures.
    """
    if found is None:
        return None
    shares = []
    if found.cores_share is not None:
        shares.append(f"{percent(found.cores_share)} of the cores")
    if found.memory_share is not None:
        shares.append(f"{percent(found.memory_share)} of the memory")
    tasks = f"{found.tasks} task{'s' if found.tasks != 1 else ''}"
    words = f"used {' and '.join(shares)} asked for, across {tasks}" if shares else tasks
    if found.memory_share is None:
        words += f" (peak memory {size_text(found.memory_peak)}; none was asked for)"
    return words


def task_usage(task, follow: bool = True, root=None) -> Usage | None:
    """What a task uses or used: CPU seconds, average and peak cores, peak memory of its
    whole process tree, wall time (a live reading while it runs, from its driver).

    Args:
        task: a task id or Task handle.
        follow: for a retried task, the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).

    Returns:
        A `Usage` (`cores_average`, `memory_peak` in bytes, `running`, `source`...), or
        None when nothing was measured (not started yet, or a driver that can't tell).
    """
    root = find_root(getattr(task, "root", None) or root)
    task_id = follow_one(root, check_task_id(task), follow)
    return efficiencies(root, [task_id])[0].usage
