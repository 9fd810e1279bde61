"""Remote roots: any driver reached over SSH (the system OpenSSH client, one master
connection per root), with the root's tasks written on both sides.

    ssh.py       the transport: one remote command per operation over a ControlMaster
    wire.py      the messages: a JSON header and byte strings, files as parts or chunks
        transfer.py  what goes up with a submission, what comes down with a reply
    driver.py    RemoteDriver, the laptop's side of any driver behind SSH
    setup.py     checks at configure, the user's keys there, `hipercow remote install`

The names below load on first use (PEP 562): the agent, run on the remote side for every
operation, imports only what its operation needs.
"""

from importlib import import_module

_NAMES = {
    "RemoteDriver": "driver",
    "REMOTE_OPTIONS": "setup",
    "configure_remote": "setup",
    "connect": "setup",
    "describe": "setup",
    "disconnect": "setup",
    "install_remote": "setup",
    "remote_config": "setup",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    """A public name, loaded from its module on first use."""
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_NAMES[name]}"), name)
    globals()[name] = value
    return value
