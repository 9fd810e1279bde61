"""The local scheduler's wake-up socket: a unix datagram socket file in the root's own local
folder (so only those who can write the root can take it), or none, and polling, when the
path is too long for a socket or can't be bound.
"""

from __future__ import annotations

import contextlib
import os
import socket

from hipercow_magic.drivers.local import paths
from hipercow_magic.drivers.local.health import log


def listen(root) -> socket.socket | None:
    """The wake-up socket (a file in the root's own local folder); None, and polling, when
    the path is too long for a socket or it can't be bound.
    """
    address = paths.wake_address(root)
    if address is None:
        log("the root's path is too long for a wake-up socket: polling the queue instead")
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)  # an earlier scheduler's (we hold the root's lock)
        sock.bind(address)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        log(f"can't listen for wake-ups at {address} ({e}): polling the queue instead")
        return None
    return sock
