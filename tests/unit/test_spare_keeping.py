"""How many spares the local scheduler keeps, and that a fork that fails is not retried at
once (a stand-in for the fork: the machine can't be made to refuse one to root).
"""

import errno
import math

import pytest

from hipercow_magic.drivers.local import launching
from hipercow_magic.drivers.local.launching import FORK_RETRY, SPARES, Launching


class Keeper(Launching):
    """Just what keep_spare and spare_due use of a scheduler."""

    def __init__(self):
        self.root = None
        self.spares = []
        self.fork_failed = -math.inf


class Forks:
    """The stand-in for Spare: counts forks, refuses them while `failing`."""

    def __init__(self):
        self.count = 0
        self.failing = False

    def __call__(self, root, ahead):
        self.count += 1
        if self.failing:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        return ("spare", self.count, ahead)


@pytest.fixture
def forks(monkeypatch):
    forks = Forks()
    monkeypatch.setattr(launching, "Spare", forks)
    return forks


def test_spares_are_forked_one_a_call_up_to_the_number_kept(forks):
    keeper = Keeper()
    assert keeper.spare_due() == 0
    for kept in range(1, SPARES + 1):
        keeper.keep_spare()
        assert len(keeper.spares) == kept and forks.count == kept
    assert keeper.spare_due() == math.inf
    keeper.keep_spare()
    assert forks.count == SPARES  # none beyond
    assert all(ahead for _, _, ahead in keeper.spares)


def test_a_failed_fork_is_tried_again_only_after_a_while(forks):
    keeper = Keeper()
    forks.failing = True
    with pytest.raises(OSError):
        keeper.keep_spare()  # the scheduler's guard logs it
    assert 0 < keeper.spare_due() <= FORK_RETRY
    keeper.keep_spare()
    assert forks.count == 1 and keeper.spares == []  # not tried again at once
    forks.failing = False
    keeper.fork_failed -= FORK_RETRY  # as if the wait had passed
    assert keeper.spare_due() == 0
    keeper.keep_spare()
    assert forks.count == 2 and len(keeper.spares) == 1
