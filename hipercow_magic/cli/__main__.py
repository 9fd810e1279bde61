"""`python -m hipercow_magic.cli`: the `hipercow` command."""

import sys

from hipercow_magic.cli.main import main

sys.exit(main())
