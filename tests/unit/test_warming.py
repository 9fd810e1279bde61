"""A waiting spare makes the memory it shares with its parent its own (real forked processes
on this machine's kernel): afterwards writing to that memory takes no page faults, and an
order already there stops it at once.
"""

import os
import platform
import resource

import pytest

from hipercow_magic.drivers.local.warming import (
    LARGEST,
    warm_until_readable,
    writable_private_ranges,
)

PAGES = 2048  # 8 MB of the parent's memory, written by each child


def _kernel_can_warm() -> bool:
    """Linux 5.14 or later: MADV_POPULATE_WRITE is there."""
    if platform.system() != "Linux":
        return False
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    return (major, minor) >= (5, 14)


def test_only_private_writable_mappings_in_use_are_warmed():
    big = LARGEST + 4096
    maps = "\n".join(
        [
            "55d0a0000000-55d0a0001000 r--p 00000000 08:01 123 /usr/bin/python3.11",
            "55d0a0001000-55d0a0003000 r-xp 00001000 08:01 123 /usr/bin/python3.11",
            "55d0a0010000-55d0a0012000 rw-p 00010000 08:01 123 /usr/bin/python3.11",
            "55d0a1000000-55d0a1400000 rw-p 00000000 00:00 0 [heap]",
            "7f0000000000-7f0000002000 rw-s 00000000 00:05 77 /dev/shm/shared",
            f"7f1000000000-{0x7F1000000000 + big:x} rw-p 00000000 00:00 0",
            "7f2000000000-7f2000001000 ---p 00000000 00:00 0",
            "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]",
        ]
    )
    assert writable_private_ranges(maps) == [
        (0x55D0A0010000, 0x55D0A0012000),
        (0x55D0A1000000, 0x55D0A1400000),
        (0x7FFC00000000, 0x7FFC00021000),
    ]


def _faults_writing_in_a_child(inherited: bytearray, warm: bool) -> tuple[int, int]:
    """(bytes warmed, page faults taken) by a forked child writing a byte in each page of
    `inherited`, after warming (all of its memory: its pipe is never written) or not.
    """
    orders, never_written = os.pipe()
    report_in, report_out = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            warmed = warm_until_readable(orders) if warm else 0
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for page in range(PAGES):
                inherited[page * 4096] = 2
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
            os.write(report_out, f"{warmed} {faults}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(report_out)
    try:
        report = os.read(report_in, 100)
        _, status = os.waitpid(pid, 0)
    finally:
        for fd in (orders, never_written, report_in):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    warmed, faults = (int(x) for x in report.split())
    return warmed, faults


@pytest.mark.skipif(not _kernel_can_warm(), reason="needs Linux 5.14 (MADV_POPULATE_WRITE)")
def test_a_warmed_child_writes_to_its_parents_memory_without_page_faults():
    inherited = bytearray(b"\1" * (PAGES * 4096))  # written here: in memory, then shared
    _, cold = _faults_writing_in_a_child(inherited, warm=False)
    warmed, warm = _faults_writing_in_a_child(inherited, warm=True)
    assert cold >= PAGES  # one copy-on-write fault a page
    assert warmed >= PAGES * 4096
    assert warm < PAGES // 20
    assert inherited[0] == 1  # the children's writes stayed theirs


def test_an_order_already_there_stops_the_warming_at_once():
    orders, sender = os.pipe()
    try:
        os.write(sender, b"g{}")
        assert warm_until_readable(orders) == 0
        assert os.read(orders, 10) == b"g{}"  # the order is left for the spare to read
    finally:
        os.close(orders)
        os.close(sender)
