"""The parsers of `%%hipercow` and `%hipercow`, built from the shared argument layer
(`hipercow_magic.cli.args`) so they take the options of the `hipercow` command, plus the few
that only make sense in a notebook.
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.utils._process_common import arg_split

from hipercow_magic.cli.args import (
    add_root_commands,
    add_task_commands,
    add_task_options,
    command,
)

IDS_HELP = (
    "task ids, their first 4 or more characters (as every display shows them), bundle "
    "names, or variables holding handles"
)
CELL_DESCRIPTION = """Run this cell on the cluster as a task.

The names the cell reads are captured from the notebook; when the task succeeds, the names
it assigns at top level appear in the notebook (between cells; a cell that reads one before
then waits for the task first), and a live display shows its status, queue state, times, log
and result. A cell whose code (comments and formatting aside) and inputs are unchanged since
a task that succeeded reuses that task (--rerun to run it anew; `%hipercow why ID` says what
changed when it did not). Quote values with spaces: --name "my run".
"""


def without_comment(line: str) -> str:
    """The line without a trailing shell-style comment: a `#` that starts a word outside
    quotes (`--name run#2` and `"a # b"` keep theirs), as a shell reads it.
    """
    quote, escaped = None, False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


class HipercowArgumentParser(MagicArgumentParser):
    """A magic's argument parser that splits its line like a shell does, so quotes group
    words and are removed (`--name "my run"` gives `my run`) and a trailing `# comment` is
    left out.
    """

    def parse_argstring(self, argstring: str):
        """Split `argstring` like a shell and parse the words.

        Args:
            argstring: what follows the magic's name.

        Returns:
            The parsed arguments (an argparse Namespace).
        """
        try:
            words = arg_split(without_comment(argstring), posix=True)
        except ValueError as e:
            raise UsageError(f"Could not split the arguments: {e}") from None
        return self.parse_args(words)


def add_cell_only_options(parser: MagicArgumentParser) -> None:
    """Declare the `%%hipercow` options the `hipercow create` command has no use for."""
    cell = parser.add_argument_group("in the notebook")
    cell.add_argument(
        "--bulk",
        metavar="DATA",
        help="one task per element or row of DATA (a name or expression); a row's "
        "keys or columns become variables of the cell",
    )
    cell.add_argument(
        "--wait",
        action="store_true",
        help="block until done; the cell's output is its last value (Ctrl-C stops "
        "waiting, not the task)",
    )
    cell.add_argument("-o", "--out", metavar="VAR", help="put the task (or bundle) handle in VAR")
    cell.add_argument(
        "--no-export",
        action="store_true",
        help="do not set the cell's variables in the notebook when the task succeeds",
    )
    cell.add_argument(
        "--rerun",
        action="store_true",
        help="run the cell as a new task even if its code and inputs are unchanged since a "
        "task that succeeded (which it would otherwise reuse); later runs reuse the new one",
    )


def cell_parser() -> HipercowArgumentParser:
    """The parser of `%%hipercow`: the options of `hipercow create`, and the cell's own."""
    parser = HipercowArgumentParser(prog="%hipercow", description=CELL_DESCRIPTION)
    add_task_options(parser)
    add_cell_only_options(parser)
    return parser


def line_parser() -> HipercowArgumentParser:
    """The parser of `%hipercow COMMAND`: the `hipercow` command's root and task commands
    (task commands at the top: `%hipercow status ID` is `hipercow task status ID`), and the
    notebook's own: `help`, `show`, and `result -o VAR --export`.
    """
    top = HipercowArgumentParser(prog="hipercow", description="hipercow commands")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    command(sub, "help", "this help")
    add_root_commands(sub)
    parsers = add_task_commands(sub, IDS_HELP)
    p = parsers["result"]
    p.add_argument("-o", "--out", metavar="VAR", help="put the value in VAR instead")
    p.add_argument("--export", action="store_true", help="also set the variables the task assigned")
    p = command(sub, "show", "re-display a task or bundle as a live display")
    p.add_argument(
        "id",
        metavar="ID",
        help="a task id, its first 4 or more characters, a bundle name, or a variable "
        "holding a handle",
    )
    p.add_argument(
        "--export",
        action="store_true",
        help="set the task's variables in the notebook when it succeeds",
    )
    return top
