"""A spare process's use of its idle time: making its memory its own before its task comes.

A process forked from the scheduler shares the scheduler's memory until one of them writes
to it; each first write to a shared page then stops the process for a page fault and a
copy, and a trivial task makes hundreds of them. A spare that waits makes its writable
memory its own ahead (madvise MADV_POPULATE_WRITE, Linux 5.14 and later), a chunk at a time,
looking at its pipe between chunks: a task given to a spare that had time to warm starts
without those faults, and one given at once is not delayed. Where the kernel can't, the
spare just waits.
"""

from __future__ import annotations

import ctypes
import errno
import select

MADV_POPULATE_WRITE = 23
CHUNK = 1 << 18  # bytes made this process's own between looks at the pipe (~0.1 ms)
LARGEST = 64 << 20  # a larger mapping is a reservation rather than memory in use: left alone


def writable_private_ranges(maps: str) -> list[tuple[int, int]]:
    """The (start, end) addresses of the private writable mappings in a /proc/PID/maps
    text, leaving out any larger than LARGEST.
    """
    ranges = []
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[1][1] != "w" or fields[1][3] != "p":
            continue
        start, end = (int(address, 16) for address in fields[0].split("-"))
        if end - start <= LARGEST:
            ranges.append((start, end))
    return ranges


def _ready(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def warm_until_readable(fd: int) -> int:
    """Make this process's private writable memory its own, a chunk at a time, until `fd`
    becomes readable or all of it is done; returns the bytes made its own.
    """
    if _ready(fd):
        return 0
    try:
        with open("/proc/self/maps") as f:
            ranges = writable_private_ranges(f.read())
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return 0  # not Linux
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    for start, end in ranges:
        for address in range(start, end, CHUNK):
            if _ready(fd):
                return done
            size = min(CHUNK, end - address)
            if madvise(address, size, MADV_POPULATE_WRITE) != 0:
                if ctypes.get_errno() == errno.EINVAL and done == 0:
                    return 0  # a kernel without MADV_POPULATE_WRITE
                break  # this mapping can't be: the next may
            done += size
    return done
