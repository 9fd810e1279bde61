/**
 * A timeline of tasks drawn as a small SVG: one lane per node (and one for tasks not
 * started yet), each task a thin bar while it waited and a thick one while it ran,
 * coloured by its status with JupyterLab's theme colours (light and dark alike).
 */
import { prettyDt } from './format';
import { ITaskRow } from './request';
import { element } from './rows';

const SVG = 'http://www.w3.org/2000/svg';
const LABEL_WIDTH = 64; // room for a node's name at the left
const TRACK = 10; // height of one task's track (its bar and a gap)...
const MAX_LANE = 80; // ... less in a lane of many tracks, which is at most this high
const MIN_TRACK = 2;
const AXIS = 16; // room for the time axis below
const QUEUED = '(waiting)';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: { [name: string]: string | number },
  className = ''
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, String(value));
  }
  if (className) {
    node.setAttribute('class', className);
  }
  return node;
}

interface ISpan {
  task: ITaskRow;
  created: number;
  started: number | null;
  end: number;
}

/** Each span on the first track of its lane where it does not overlap the one before. */
function tracks(spans: ISpan[]): ISpan[][] {
  const out: ISpan[][] = [];
  const ends: number[] = [];
  for (const span of [...spans].sort((a, b) => (a.started ?? a.created) - (b.started ?? b.created))) {
    const from = span.started ?? span.created;
    let k = ends.findIndex(e => e <= from);
    if (k < 0) {
      k = out.length;
      out.push([]);
      ends.push(0);
    }
    out[k].push(span);
    ends[k] = span.end;
  }
  return out;
}

/**
 * Draw `rows` over time, `width` pixels wide; `now` (server seconds) ends the bars of
 * tasks still waiting or running; `label` names a task in its tooltip. Null when no row
 * has a creation time (nothing to draw).
 */
export function drawTimeline(
  rows: ITaskRow[],
  now: number,
  width: number,
  label: (task: ITaskRow) => string
): SVGSVGElement | null {
  const spans: ISpan[] = rows
    .filter(t => t.created !== null)
    .map(t => ({
      task: t,
      created: t.created as number,
      started: t.started,
      end: t.finished ?? (t.status === 'running' || t.status === 'submitted' ? now : t.started ?? t.created ?? now)
    }));
  if (spans.length === 0) {
    return null;
  }
  const t0 = Math.min(...spans.map(s => s.created));
  const t1 = Math.max(t0 + 0.001, ...spans.map(s => s.end));
  const lanes = new Map<string, ISpan[]>();
  for (const span of spans) {
    const lane = span.started === null ? QUEUED : span.task.node || '(unknown node)';
    lanes.set(lane, [...(lanes.get(lane) ?? []), span]);
  }
  const names = [...lanes.keys()].sort((a, b) =>
    a === QUEUED ? 1 : b === QUEUED ? -1 : a.localeCompare(b, undefined, { numeric: true })
  );
  const plot = Math.max(40, width - LABEL_WIDTH - 8);
  const x = (t: number) => LABEL_WIDTH + ((t - t0) / (t1 - t0)) * plot;
  const root = svg('svg', { width, role: 'img' }, 'hc-timeline-svg');
  let y = 2;
  for (const name of names) {
    const laneTracks = tracks(lanes.get(name)!);
    const track = Math.max(MIN_TRACK, Math.min(TRACK, MAX_LANE / laneTracks.length));
    const height = Math.max(12, laneTracks.length * track); // room for its label
    root.append(svg('rect', { x: 0, y, width, height, rx: 2 }, 'hc-tl-lane'));
    const text = svg('text', { x: 4, y: y + Math.min(height, 12) - 2 }, 'hc-tl-label');
    text.textContent = name.length > 10 ? `${name.slice(0, 9)}…` : name;
    root.append(text);
    laneTracks.forEach((spans, k) => {
      const top = y + k * track;
      for (const span of spans) {
        root.append(bar(span, top, track * 0.8, x, label));
      }
    });
    y += height + 3;
  }
  // the axis: when the first task was created, and how long after it the last ended
  const axis = svg('g', {}, 'hc-tl-axis');
  axis.append(svg('line', { x1: LABEL_WIDTH, x2: LABEL_WIDTH + plot, y1: y + 1, y2: y + 1 }));
  const start = svg('text', { x: LABEL_WIDTH, y: y + AXIS - 3 });
  start.textContent = new Date(t0 * 1000).toLocaleTimeString([], { hour12: false });
  const end = svg('text', { x: LABEL_WIDTH + plot, y: y + AXIS - 3, 'text-anchor': 'end' });
  end.textContent = `+${prettyDt(t1 - t0)}`;
  axis.append(start, end);
  root.append(axis);
  root.setAttribute('height', String(y + AXIS));
  root.setAttribute('viewBox', `0 0 ${width} ${y + AXIS}`);
  const lanesText = names.map(n => `${n}: ${lanes.get(n)!.length}`).join(', ');
  root.setAttribute('aria-label', `Timeline of ${spans.length} tasks (${lanesText})`);
  return root;
}

/** One task: its wait (thin) then its run (thick, coloured by status), with a tooltip. */
function bar(
  span: ISpan,
  top: number,
  height: number,
  x: (t: number) => number,
  label: (task: ITaskRow) => string
): SVGGElement {
  const task = span.task;
  const group = svg('g', {}, `hc-tl-task hc-status-${task.status ?? 'unknown'}`);
  group.dataset.id = task.id;
  const waitedEnd = span.started ?? span.end;
  const waited = svg(
    'rect',
    {
      x: x(span.created),
      y: top + height / 2 - Math.min(1, height / 4),
      width: Math.max(1, x(waitedEnd) - x(span.created)),
      height: Math.min(2, height / 2)
    },
    'hc-tl-waited'
  );
  group.append(waited);
  if (span.started !== null) {
    group.append(
      svg(
        'rect',
        {
          x: x(span.started),
          y: top,
          width: Math.max(2, x(span.end) - x(span.started)),
          height,
          rx: 1
        },
        'hc-tl-ran'
      )
    );
  }
  const title = svg('title', {});
  const parts = [label(task), task.status ?? 'unknown'];
  if (task.started !== null) {
    parts.push(`waited ${prettyDt(task.started - span.created)}`, `ran ${prettyDt(span.end - task.started)}`);
  } else {
    parts.push(`waiting ${prettyDt(span.end - span.created)}`);
  }
  if (task.node) {
    parts.push(`on ${task.node}`);
  }
  title.textContent = parts.join(' · ');
  group.append(title);
  return group;
}

/**
 * A timeline of `rows` with its legend, `width` pixels wide (`rows` or `now` null: still
 * loading), in a box of class `className`.
 */
export function timelineBox(
  rows: ITaskRow[] | null,
  now: number | null,
  width: number,
  label: (task: ITaskRow) => string,
  className: string
): HTMLElement {
  const box = element('div', `hc-timeline ${className}`);
  if (rows === null || now === null) {
    box.append(element('div', 'hc-empty', 'Loading the timeline...'));
    return box;
  }
  const drawn = drawTimeline(rows, now, width, label);
  if (drawn === null) {
    box.append(element('div', 'hc-empty', 'No tasks to draw.'));
    return box;
  }
  const legend = element('div', 'hc-timeline-legend');
  legend.append(
    element('span', 'hc-legend-waited', 'waited'),
    element('span', 'hc-legend-ran', 'ran, by status'),
    element('span', '', 'a lane per node')
  );
  box.append(drawn, legend);
  return box;
}
