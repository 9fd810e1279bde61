"""The notebook front end: `%%hipercow`, `%hipercow` and `%hipercow_info`.

Load with `%load_ext hipercow_magic` (or `c.InteractiveShellApp.extensions`). Settings are
traitlets, e.g. `%config HipercowMagics.refresh_interval = 0.5`.
"""

from __future__ import annotations

from hipercow_magic.magics.magics import HipercowMagics

__all__ = ["HipercowMagics", "load_ipython_extension", "loaded_magics", "unload_ipython_extension"]


_loaded: dict = {}


def load_ipython_extension(ipython) -> None:
    """Register the magics (loading twice is harmless)."""
    if id(ipython) in _loaded:
        return
    magics = HipercowMagics(ipython)
    ipython.register_magics(magics)
    _loaded[id(ipython)] = magics


def unload_ipython_extension(ipython) -> None:
    """Unregister the magics and stop delivering values (`%unload_ext hipercow_magic`)."""
    magics = _loaded.pop(id(ipython), None)
    if magics is None:
        return
    magics.close()
    for kind, names in (("line", ("hipercow", "hipercow_info")), ("cell", ("hipercow",))):
        for name in names:
            ipython.magics_manager.magics[kind].pop(name, None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)


def loaded_magics(ipython) -> HipercowMagics | None:
    """The magics registered in `ipython`, if the extension is loaded."""
    return _loaded.get(id(ipython))
