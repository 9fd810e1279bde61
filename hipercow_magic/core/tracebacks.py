"""How a task's traceback (formatted on the node) is shown: in HTML and in a terminal."""

from __future__ import annotations

import html


def traceback_html(text: str) -> str:
    """A node's traceback as an HTML block for widgets and saved notebooks."""
    return f'<pre class="hipercow-traceback">{html.escape(text)}</pre>'


def traceback_ansi(text: str) -> str:
    """A node's traceback for a terminal."""
    return text
