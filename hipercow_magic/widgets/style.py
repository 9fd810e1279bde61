"""How the displays look: JupyterLab's theme variables only, each with a fallback for pages
without them (nbconvert, nbviewer), so live widgets and saved records read well in light and
dark themes alike.
"""

from __future__ import annotations

import html


def var(name: str, fallback: str) -> str:
    """A JupyterLab CSS variable, with the value to use where the page does not define it."""
    return f"var(--jp-{name}, {fallback})"


STATE_COLOURS = {
    "created": var("layout-color4", "#757575"),
    "submitted": var("warn-color1", "#f57c00"),
    "running": var("brand-color1", "#1976d2"),
    "success": var("success-color1", "#388e3c"),
    "failure": var("error-color1", "#d32f2f"),
    "cancelled": var("layout-color4", "#757575"),
}
ON_BADGE = var("ui-inverse-font-color1", "#ffffff")  # text on a coloured badge
MUTED = f"color:{var('content-font-color2', '#616161')}"  # secondary text
ERROR = f"color:{var('error-color1', '#d32f2f')}"  # an error's own line
WARN = f"color:{var('warn-color0', '#e65100')}"  # a display's problem
CODE = f"font-family:{var('code-font-family', 'monospace')}"
PRE = (
    f"margin:2px 0;padding:4px 6px;background:{var('layout-color2', '#eeeeee')};"
    f"color:{var('content-font-color1', '#212121')};font-size:12px;line-height:1.3;"
    "white-space:pre-wrap;max-height:24em;overflow:auto"
)
CARD_STYLE = (
    f"border:1px solid {var('border-color2', '#e0e0e0')};padding:4px 8px;"
    f"color:{var('content-font-color1', '#212121')};font-size:13px;line-height:1.5"
)
ROW = {"margin": "0", "min_height": "0"}  # rows of text, without the default spacing
CARD = {"border": f"1px solid {var('border-color2', '#e0e0e0')}", "padding": "4px 8px"}


def badge(status: str) -> str:
    """A status as a coloured pill (HTML)."""
    colour = STATE_COLOURS.get(status, STATE_COLOURS["created"])
    return (
        f'<span class="hipercow-badge hipercow-{html.escape(status)}" style="background:'
        f'{colour};color:{ON_BADGE};border-radius:8px;padding:1px 8px;font-size:12px">'
        f"{html.escape(status)}</span>"
    )


def state_text(status: str, text: str) -> str:
    """`text` in the colour of `status` (e.g. a bundle's '3 failure'), for light and dark."""
    return f'<span style="color:{STATE_COLOURS.get(status, "inherit")}">{html.escape(text)}</span>'


def problem_html(problem: str | None) -> str:
    """A model's problem as one warning line (HTML); empty when there is none."""
    return f'<span style="{WARN}">⚠ {html.escape(problem)}</span>' if problem else ""


def pre(text: str) -> str:
    """Text as a scrolling preformatted block (HTML)."""
    return f'<pre style="{PRE}">{html.escape(text)}</pre>'


def row(text_html: str) -> str:
    """A line of a live widget, spaced as the record's lines are ('' stays empty)."""
    return f'<div style="line-height:1.5">{text_html}</div>' if text_html else ""


def muted(text_html: str) -> str:
    """HTML in the theme's secondary text colour."""
    return f'<span style="{MUTED}">{text_html}</span>'


def svg_fill(colour: str) -> str:
    """SVG attributes filling a shape with `colour` (a `var(...)` with a fallback): the
    fallback as the `fill` attribute, the variable as its style, which wins where defined.
    """
    fallback = colour.rsplit(",", 1)[-1].strip(" )") if colour.startswith("var(") else colour
    return f'fill="{fallback}" style="fill:{colour}"'


BAR_ORDER = ("success", "failure", "cancelled", "running", "submitted", "created")


def stacked_bar(counts: dict[str, int], total: int) -> str:
    """A bar split by state (HTML): a segment per state in its colour, as wide as its share
    of `total`, each saying its count on hover.
    """
    segments = "".join(
        f'<span class="hipercow-bar-{s}" title="{counts[s]} {s}" style="display:inline-block;'
        f'height:100%;width:{100 * counts[s] / total:.3f}%;background:{STATE_COLOURS[s]}">'
        "</span>"
        for s in BAR_ORDER
        if counts.get(s) and total
    )
    return (
        f'<span class="hipercow-stacked-bar" style="display:inline-flex;width:60%;height:14px;'
        f"vertical-align:middle;border-radius:3px;overflow:hidden;"
        f'background:{var("layout-color3", "#bdbdbd")}">{segments}</span>'
    )
