"""The `hipercow` command line: a thin layer over the same api as everything else.

`args` holds the options every front end shares (the magics build their parsers from it),
`main` the `hipercow` parser and entry point, `commands` what each command does.
"""

from hipercow_magic.cli.main import main, parser

__all__ = ["main", "parser"]
