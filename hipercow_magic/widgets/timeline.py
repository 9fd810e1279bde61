"""A timeline of tasks: one lane per node, each task a bar that is light while it waited and
solid while it ran, coloured by how it ended, over a time axis.

It is inline SVG written here (no plotting library): it renders wherever HTML does (a live
widget, a saved notebook, nbviewer, nbconvert's HTML) and takes the theme's colours from
JupyterLab's CSS variables, each with a fallback for pages without them. Drawn from the
rows of api.task_summaries, so a bundle's and a root's tasks are drawn alike.
"""

from __future__ import annotations

import html
import re

from hipercow_magic.core.format import clock_time, pretty_dt
from hipercow_magic.core.status import ACTIVE
from hipercow_magic.widgets.model import durations, row_label
from hipercow_magic.widgets.style import MUTED, STATE_COLOURS, svg_fill, var

WIDTH = 860  # pixels, the drawing's width
LEFT = 100  # room for the lanes' names
RIGHT = 14
AXIS = 24  # room for the time axis above the lanes
LANE_GAP = 6
MAX_TASKS = 2000  # a timeline draws at most this many tasks (the first created)
NOT_STARTED = "not started"
TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600)
TEXT = f"fill:{var('content-font-color2', '#616161')};font-size:11px"
GRID = f"stroke:{var('border-color2', '#e0e0e0')}"


def _node_key(node: str) -> tuple:
    """Lanes in natural order (node-2 before node-10), 'not started' last."""
    parts = re.split(r"(\d+)", node)
    return (node == NOT_STARTED, [int(p) if p.isdigit() else p for p in parts])


def _lanes(rows: list[dict]) -> dict[str, list[dict]]:
    lanes: dict[str, list[dict]] = {}
    for r in rows:
        lane = (r.get("node") or "unknown node") if r.get("started") is not None else NOT_STARTED
        lanes.setdefault(lane, []).append(r)
    for tasks in lanes.values():
        tasks.sort(key=lambda r: (r.get("started") or r["created"], r["created"]))
    return {k: lanes[k] for k in sorted(lanes, key=_node_key)}


def _tick_step(span: float) -> float:
    """A round step that puts at most 8 ticks on the axis."""
    for step in TICKS:
        if span / step <= 8:
            return step
    return span / 8


def _tooltip(r: dict, now: float) -> str:
    waited, ran = durations(r, now)
    parts = [f"{row_label(r)}: {r['status']}"]
    if r.get("node"):
        parts.append(f"on {r['node']}")
    parts.append(f"waited {pretty_dt(waited)}")
    if ran is not None:
        parts.append(f"ran for {pretty_dt(ran)}")
    return " · ".join(parts)


def _bar(r: dict, y: float, h: float, x, now: float) -> str:
    """One task: its wait (light) then its run (solid), in its status's colour."""
    started, finished = r.get("started"), r.get("finished")
    end = finished if finished is not None else now
    wait_end = started if started is not None else end
    fill = svg_fill(STATE_COLOURS.get(r["status"], STATE_COLOURS["created"]))
    x0, x1 = x(r["created"]), x(wait_end)
    out = [
        f'<g class="hipercow-timeline-task"><title>{html.escape(_tooltip(r, now))}</title>',
        f'<rect class="waited" x="{x0:.1f}" y="{y:.1f}" width="{max(1.0, x1 - x0):.1f}" '
        f'height="{h:.1f}" fill-opacity="0.3" {fill}/>',
    ]
    if started is not None:
        x2 = x(end)
        out.append(
            f'<rect class="ran" x="{x1:.1f}" y="{y:.1f}" width="{max(1.5, x2 - x1):.1f}" '
            f'height="{h:.1f}" {fill}/>'
        )
    out.append("</g>")
    return "".join(out)


def _axis(t0: float, t1: float, x, bottom: float) -> list[str]:
    """The time axis along the top (seconds from `t0`), a faint line down from each tick."""
    step = _tick_step(t1 - t0)
    out = [
        f'<line x1="{LEFT}" y1="{AXIS - 6}" x2="{WIDTH - RIGHT}" y2="{AXIS - 6}" style="{GRID}"/>'
    ]
    k = 0
    while t0 + k * step <= t1 + 1e-9:
        xt = x(t0 + k * step)
        label = f"{k * step:g}s" if k * step < 60 else pretty_dt(k * step)
        out.append(
            f'<text x="{xt:.1f}" y="{AXIS - 10}" text-anchor="middle" style="{TEXT}">'
            f"{html.escape(label)}</text>"
            f'<line x1="{xt:.1f}" y1="{AXIS - 6}" x2="{xt:.1f}" y2="{bottom:.1f}" '
            f'stroke-opacity="0.5" style="{GRID}"/>'
        )
        k += 1
    return out


def timeline_svg(rows: list[dict], now: float) -> str:
    """Tasks over time as an SVG drawing (a string), from rows of api.task_summaries.

    One lane per node (tasks that have not started in a last lane); each task a bar from
    its creation to its start (light: waiting) then to its end or `now` (solid: running),
    in its status's colour, with its parameters and times as a tooltip; the axis counts
    from the first task's creation. At most MAX_TASKS tasks are drawn (the first created).
    '' when no row has a creation time.
    """
    rows = sorted((r for r in rows if r.get("created") is not None), key=lambda r: r["created"])
    rows = rows[:MAX_TASKS]
    if not rows:
        return ""
    t0 = rows[0]["created"]
    ends = [r["finished"] if r.get("finished") is not None else now for r in rows]
    t1 = max(t0 + 1.0, *ends)
    scale = (WIDTH - LEFT - RIGHT) / (t1 - t0)

    def x(t: float) -> float:
        return LEFT + (min(max(t, t0), t1) - t0) * scale

    h = max(2.0, min(10.0, 300.0 / len(rows)))
    pitch = h + max(1.0, h / 4)
    body, y = [], float(AXIS)
    for node, tasks in _lanes(rows).items():
        height = len(tasks) * pitch + 2 * 2
        name = node if len(node) <= 15 else node[:14] + "…"
        body.append(
            f'<g class="hipercow-timeline-lane" data-node="{html.escape(node)}">'
            f'<line x1="0" y1="{y - LANE_GAP / 2:.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y - LANE_GAP / 2:.1f}" style="{GRID}"/>'
            f'<text x="{LEFT - 8}" y="{y + min(height / 2, 10) + 4:.1f}" text-anchor="end" '
            f'style="{TEXT}"><title>{html.escape(node)}</title>{html.escape(name)}</text>'
        )
        body += [_bar(r, y + 2 + i * pitch, h, x, now) for i, r in enumerate(tasks)]
        body.append("</g>")
        y += height + LANE_GAP
    body[:0] = _axis(t0, t1, x, y)  # under the bars
    if any(r["status"] in ACTIVE for r in rows):
        xn = x(now)
        body.append(
            f'<line class="now" x1="{xn:.1f}" y1="{AXIS - 6}" x2="{xn:.1f}" y2="{y:.1f}" '
            f'stroke-dasharray="3 3" style="{GRID}"/>'
        )
    total = y
    label = f"{len(rows)} tasks over {pretty_dt(t1 - t0)}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hipercow-timeline" role="img" '
        f'aria-label="{html.escape(label)}" width="{WIDTH}" height="{total:.0f}" '
        f'viewBox="0 0 {WIDTH} {total:.0f}" style="max-width:100%;height:auto;'
        f'font-family:{var("ui-font-family", "sans-serif")}">{"".join(body)}</svg>'
    )


def timeline_caption(rows: list[dict], now: float) -> str:
    """What the timeline shows, in one line: how many tasks on how many nodes, from when to
    when ('' for no rows).
    """
    rows = [r for r in rows if r.get("created") is not None]
    if not rows:
        return ""
    t0 = min(r["created"] for r in rows)
    nodes = {r.get("node") for r in rows if r.get("started") is not None}
    drawn = min(len(rows), MAX_TASKS)
    what = f"{drawn} of {len(rows)} tasks" if drawn < len(rows) else f"{len(rows)} tasks"
    return (
        f"{what} on {len(nodes)} node{'s' if len(nodes) != 1 else ''}, from "
        f"{clock_time(t0, now)} · light: waiting, solid: running, coloured by state"
    )


def timeline_html(rows: list[dict], now: float) -> str:
    """The timeline with its caption, scrolling when tall (HTML; '' for no rows)."""
    svg = timeline_svg(rows, now)
    if not svg:
        return ""
    caption = html.escape(timeline_caption(rows, now))
    return (
        f'<div style="{MUTED};font-size:12px">{caption}</div>'
        f'<div style="max-height:420px;overflow:auto">{svg}</div>'
    )
