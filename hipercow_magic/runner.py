"""`python -m hipercow_magic.runner ROOT TASK_ID`: the entry batch scripts on disk name.

Kept thin and at this path because scripts already written name it; the code is in node/runner.py.
"""

import sys

from hipercow_magic.node.runner import main

if __name__ == "__main__":
    sys.exit(main())
