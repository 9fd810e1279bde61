"""The ONE argument layer: the options, their help and their converters, shared by the
`hipercow` command line and the `%hipercow` / `%%hipercow` magics, so both take the same
options with the same spellings and turn them into the same values.

Each `add_*` function declares arguments on an argparse parser (or registers commands on an
argparse subparsers object); the magics pass IPython's `MagicArgumentParser`, an argparse
subclass. The converters (`task_options`, `init_options`, `configure_options`, ...) turn
parsed arguments into what the api functions take.
"""

from hipercow_magic.cli.args.common import command, parse_pairs
from hipercow_magic.cli.args.environments import (
    add_environment_parser,
    add_provision_parser,
    environment_cli,
    environment_command,
    provision_cli,
    provision_command,
    unquote,
)
from hipercow_magic.cli.args.remote import add_remote_parser, remote_command
from hipercow_magic.cli.args.root import (
    add_configuration_parser,
    add_configure_parser,
    add_hello_parser,
    add_init_parser,
    add_purge_parser,
    add_root_commands,
    add_unconfigure_parser,
    configure_options,
    init_options,
)
from hipercow_magic.cli.args.tasks import (
    LIST_LIMIT,
    TASK_COMMANDS,
    add_task_commands,
    add_task_options,
    parse_cores,
    parse_hold_until,
    positive_whole_number,
    task_envvars,
    task_options,
    task_parallel,
    task_resources,
)

__all__ = [
    "LIST_LIMIT",
    "TASK_COMMANDS",
    "add_configuration_parser",
    "add_configure_parser",
    "add_environment_parser",
    "add_hello_parser",
    "add_init_parser",
    "add_provision_parser",
    "add_purge_parser",
    "add_remote_parser",
    "add_root_commands",
    "add_task_commands",
    "add_task_options",
    "add_unconfigure_parser",
    "command",
    "configure_options",
    "environment_cli",
    "environment_command",
    "init_options",
    "parse_cores",
    "parse_hold_until",
    "parse_pairs",
    "positive_whole_number",
    "provision_cli",
    "provision_command",
    "remote_command",
    "task_envvars",
    "task_options",
    "task_parallel",
    "task_resources",
    "unquote",
]
