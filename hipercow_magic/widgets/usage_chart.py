"""What each task of a bundle used against its request, as a small chart: one panel of peak
memory, one of average cores; a mark per task (in its state's colour, hollow while it
runs) and a dashed line at what it asked for.

Inline SVG, as the timeline (see `timeline`): it renders in a live widget, a saved notebook
and nbconvert's HTML alike, in the theme's colours (JupyterLab's CSS variables, each with a
fallback).
"""

from __future__ import annotations

import html
import math

from hipercow_magic.api.usage import GB, cores_text, of_cores, percent, size_text
from hipercow_magic.widgets.style import MUTED, STATE_COLOURS, svg_fill, var

PANEL = 400  # pixels, one panel's width
GAP = 40  # between the panels
LEFT = 56  # room for the value axis's labels
HEIGHT = 150  # the plot's height
TOP = 22  # room for a panel's title
BOTTOM = 8
MAX_TASKS = 2000  # marks drawn at most (the bundle's first tasks)
TEXT = f"fill:{var('content-font-color2', '#616161')};font-size:11px"
GRID = f"stroke:{var('border-color2', '#e0e0e0')}"
NICE = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)  # round tops of an axis, x a power of 10
ASKED = f"stroke:{var('content-font-color2', '#616161')};stroke-width:1.5"


def nice_top(value: float) -> float:
    """The axis's top: a round number a little above `value` (1.2, 2.5, 5, 10, ...)."""
    scale = 10 ** math.floor(math.log10(value * 1.05))
    return next(round(m * scale, 12) for m in NICE if m * scale >= value * 1.05)


def _panel(found: list, x0: float, title: str, value, asked, label, named, tip) -> list[str]:
    """One panel: title, axis at 0, half way and its top, the request line (named where
    every task asked the same), a mark per task.
    """
    values = [value(f) for f in found]
    requests = [asked(f) for f in found]
    top = nice_top(max([v for v in values + requests if v] or [1.0]))
    width = PANEL - LEFT
    pitch = width / max(1, len(found))

    def y(v: float) -> float:
        return TOP + HEIGHT - HEIGHT * min(v, top) / top

    out = [
        f'<text x="{x0:.1f}" y="{TOP - 8}" style="{TEXT};font-weight:bold">'
        f"{html.escape(title)}</text>",
        f'<line x1="{x0 + LEFT:.1f}" y1="{y(0):.1f}" x2="{x0 + PANEL:.1f}" y2="{y(0):.1f}" '
        f'style="{GRID}"/>',
        f'<line x1="{x0 + LEFT:.1f}" y1="{TOP}" x2="{x0 + LEFT:.1f}" y2="{y(0):.1f}" '
        f'style="{GRID}"/>',
    ]
    for v in (0.0, top / 2, top):
        out.append(
            f'<text x="{x0 + LEFT - 6:.1f}" y="{y(v) + 4:.1f}" text-anchor="end" '
            f'style="{TEXT}">{html.escape(label(v))}</text>'
        )
    for k, request in enumerate(requests):
        if request:
            xa, xb = x0 + LEFT + k * pitch, x0 + LEFT + (k + 1) * pitch
            out.append(
                f'<line class="asked" x1="{xa:.1f}" y1="{y(request):.1f}" x2="{xb:.1f}" '
                f'y2="{y(request):.1f}" stroke-dasharray="4 3" style="{ASKED}"/>'
            )
    if requests[0] and len(set(requests)) == 1:
        out.append(
            f'<text x="{x0 + PANEL:.1f}" y="{y(requests[0]) - 4:.1f}" text-anchor="end" '
            f'style="{TEXT}">asked {html.escape(named(requests[0]))}</text>'
        )
    r = max(1.5, min(4.0, pitch / 3))
    for k, (f, v) in enumerate(zip(found, values)):
        if v is None:
            continue
        colour = STATE_COLOURS.get(f.status or "created", STATE_COLOURS["created"])
        hollow = ' fill-opacity="0.25"' if f.usage.running else ""
        out.append(
            f'<circle class="used" cx="{x0 + LEFT + (k + 0.5) * pitch:.1f}" cy="{y(v):.1f}" '
            f'r="{r:.1f}"{hollow} {svg_fill(colour)}><title>{html.escape(tip(f))}</title>'
            "</circle>"
        )
    return out


def _memory_tip(f, label: str) -> str:
    share = "" if f.memory_share is None else f" ({percent(f.memory_share)})"
    asked = f" of {size_text(f.request.memory * GB)} asked" if f.request.memory else ""
    return f"{label}: peak {size_text(f.usage.memory_peak)}{asked}{share}"


def _cores_tip(f, label: str) -> str:
    share = "" if f.cores_share is None else f" ({percent(f.cores_share)})"
    asked = f" of {cores_text(f.request.cores)} asked" if f.request.cores else ""
    return f"{label}: {f.usage.cores_average:.1f} cores on average{asked}{share}"


def usage_chart_svg(found: list, labels: dict[str, str]) -> str:
    """The chart of tasks' figures (Efficiency objects, in order) as SVG; '' when none has
    figures. `labels` names each task (by id) in its mark's tooltip.
    """
    found = [f for f in found if f.usage is not None][:MAX_TASKS]
    if not found:
        return ""

    def name(f) -> str:
        return labels.get(f.task_id, f.task_id[:8])

    memory = _panel(
        found,
        0.0,
        "peak memory",
        lambda f: f.usage.memory_peak / GB,
        lambda f: f.request.memory,
        lambda v: size_text(v * GB) if v else "0",
        lambda v: size_text(v * GB),
        lambda f: _memory_tip(f, name(f)),
    )
    cores = _panel(
        found,
        PANEL + GAP,
        "average cores",
        lambda f: f.usage.cores_average,
        lambda f: f.request.cores,
        lambda v: f"{v:g}" if v else "0",
        of_cores,
        lambda f: _cores_tip(f, name(f)),
    )
    width, height = 2 * PANEL + GAP, TOP + HEIGHT + BOTTOM
    label = f"what {len(found)} tasks used against their requests"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hipercow-usage-chart" role="img" '
        f'aria-label="{html.escape(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="max-width:100%;height:auto;'
        f'font-family:{var("ui-font-family", "sans-serif")}">{"".join(memory + cores)}</svg>'
    )


def usage_chart_html(found: list, labels: dict[str, str]) -> str:
    """The chart with a caption saying how to read it (HTML; '' when no task has figures)."""
    svg = usage_chart_svg(found, labels)
    if not svg:
        return ""
    caption = (
        "each task's peak memory and average cores (dots, coloured by state; hollow: still "
        "running) against what it asked for (dashed)"
    )
    return f'<div style="{MUTED};font-size:12px">{html.escape(caption)}</div>{svg}'
