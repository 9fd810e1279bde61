import { IBundle, IBundlePage, IBundleTasks, ITaskRow, requestAPI } from './request';
import { element, pagerParts } from './rows';
import { STATUS_ORDER } from './statuses';

/** Bundles listed at once; more come with Older / Newer. */
export const BUNDLE_LIMIT = 20;
/** Tasks of an open bundle listed at once. */
export const BUNDLE_TASK_LIMIT = 50;
/** Tasks of a bundle its timeline draws at most (the first of the bundle). */
export const TIMELINE_LIMIT = 1000;

/** What the panel shows of one bundle opened in it. */
export interface IOpenBundle {
  offset: number;
  tasks: IBundleTasks | null;
  /** The rows its timeline draws, while the timeline is shown; else null. */
  timeline: ITaskRow[] | null;
  showTimeline: boolean;
  error: string | null;
}

/**
 * The root's bundles as the panel shows them: a page of them with their counts, and the
 * tasks of those opened (a page of each, by their rows), fetched together on each poll.
 */
export class BundleList {
  /** The last page of bundles fetched (null before the first, or with no root). */
  page: IBundlePage | null = null;
  offset = 0;
  /** The bundles opened, by name. */
  readonly open = new Map<string, IOpenBundle>();

  /** Open a bundle that is closed; close one that is open. */
  toggle(name: string): void {
    if (this.open.has(name)) {
      this.open.delete(name);
    } else {
      this.open.set(name, {
        offset: 0,
        tasks: null,
        timeline: null,
        showTimeline: false,
        error: null
      });
    }
  }

  /** Forget everything (another root is shown). */
  clear(): void {
    this.page = null;
    this.offset = 0;
    this.open.clear();
  }

  /**
   * Fetch the page of bundles, then each open bundle's page of tasks (`status`: only
   * tasks with these statuses) and, when shown, its timeline's rows. A failure of the
   * list is thrown; one bundle's failure is said in that bundle.
   */
  async fetch(root: string, status: string[]): Promise<void> {
    const page = await requestAPI<IBundlePage>('bundles', {
      root,
      offset: this.offset,
      limit: BUNDLE_LIMIT
    });
    const names = new Set(page.bundles.map(b => b.name));
    await Promise.all(
      [...this.open.entries()].map(async ([name, open]) => {
        if (!names.has(name)) {
          return;
        }
        try {
          const endpoint = `bundles/${encodeURIComponent(name)}`;
          const filter = status.join(',') || undefined;
          const [tasks, timeline] = await Promise.all([
            requestAPI<IBundleTasks>(endpoint, {
              root,
              status: filter,
              offset: open.offset,
              limit: BUNDLE_TASK_LIMIT
            }),
            open.showTimeline
              ? requestAPI<IBundleTasks>(endpoint, { root, limit: TIMELINE_LIMIT })
              : Promise.resolve(null)
          ]);
          open.tasks = tasks;
          open.timeline = timeline?.tasks ?? null;
          open.error = null;
        } catch (error) {
          open.error = (error as Error).message;
        }
      })
    );
    for (const name of [...this.open.keys()]) {
      if (!names.has(name)) {
        this.open.delete(name); // deleted, or on another page
      }
    }
    this.page = page;
  }

  /** Every task row shown in an open bundle. */
  rows(): ITaskRow[] {
    return [...this.open.values()].flatMap(o => o.tasks?.tasks ?? []);
  }
}

/** How a bundle's task is named in its list: its row's parameters, else its arguments. */
export function rowLabel(task: ITaskRow): string {
  if (task.row && Object.keys(task.row).length > 0) {
    return Object.entries(task.row)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
  }
  if (task.args && task.args.length > 0) {
    return task.args.join(', ');
  }
  return task.name || task.id.slice(0, 8);
}

/** A bar stacked by status (lifecycle order), each part as wide as its share of the tasks. */
export function stackedBar(counts: { [status: string]: number }, size: number): HTMLElement {
  const bar = document.createElement('div');
  bar.className = 'hc-stack';
  const parts: string[] = [];
  for (const status of STATUS_ORDER) {
    const n = counts[status] ?? 0;
    if (n === 0) {
      continue;
    }
    const part = document.createElement('span');
    part.className = `hc-stack-part hc-status-${status}`;
    part.dataset.status = status;
    part.style.flexGrow = String(n);
    part.title = `${n} ${status}`;
    bar.append(part);
    parts.push(`${n} ${status}`);
  }
  bar.title = parts.join(', ') || 'no tasks';
  bar.setAttribute('aria-label', `${size} tasks: ${bar.title}`);
  return bar;
}

/** "6 success · 2 failure": the statuses a bundle's tasks have, in lifecycle order. */
export function countsText(counts: { [status: string]: number }): string {
  return STATUS_ORDER.filter(s => (counts[s] ?? 0) > 0)
    .map(s => `${counts[s]} ${s}`)
    .join(' · ');
}

/** The header of a bundle's row: open toggle, name, size, stacked bar, counts, actions. */
export function bundleHeader(bundle: IBundle, open: IOpenBundle | undefined): HTMLElement {
  const head = document.createElement('div');
  head.className = 'hc-bundle-head';
  const toggle = button('toggle', open ? '▾' : '▸', open ? 'Hide its tasks' : 'Show its tasks');
  toggle.classList.add('hc-bundle-toggle');
  toggle.setAttribute('aria-expanded', String(Boolean(open)));
  const name = document.createElement('span');
  name.className = 'hc-bundle-name';
  name.textContent = bundle.name;
  name.title = `Bundle '${bundle.name}'`;
  const size = document.createElement('span');
  size.className = 'hc-bundle-size';
  size.textContent = `${bundle.size} task${bundle.size === 1 ? '' : 's'}`;
  const top = document.createElement('div');
  top.className = 'hc-bundle-top';
  top.append(toggle, name, size);
  const counts = document.createElement('div');
  counts.className = 'hc-bundle-counts';
  counts.textContent = countsText(bundle.counts);
  const actions = document.createElement('div');
  actions.className = 'hc-actions';
  const active = (bundle.counts.submitted ?? 0) + (bundle.counts.running ?? 0);
  const ended = (bundle.counts.failure ?? 0) + (bundle.counts.cancelled ?? 0);
  const cancel = button('cancel-all', 'Cancel all', `Cancel its ${active} queued or running tasks`);
  cancel.disabled = active === 0;
  const retry = button('retry-failed', 'Retry failed', `Run its ${ended} failed or cancelled tasks again`);
  retry.disabled = ended === 0;
  const timeline = button(
    'timeline',
    open?.showTimeline ? 'Hide timeline' : 'Timeline',
    'Its tasks over time: waited and ran, by node'
  );
  actions.append(cancel, retry, timeline);
  head.append(top, stackedBar(bundle.counts, bundle.size), counts, actions);
  return head;
}

/**
 * A bundle's row: its header and, opened, its timeline (when shown) and a page of its
 * tasks, each drawn by `draw.row`; `draw.go` moves to another page of them.
 */
export function renderBundle(
  bundle: IBundle,
  open: IOpenBundle | undefined,
  draw: {
    row: (task: ITaskRow) => HTMLElement;
    timeline: (rows: ITaskRow[] | null) => HTMLElement;
    go: (offset: number) => void;
  }
): HTMLElement {
  const node = element('div', 'hc-bundle');
  node.dataset.bundle = bundle.name;
  node.append(bundleHeader(bundle, open));
  if (!open) {
    return node;
  }
  node.classList.add('hc-bundle-open');
  if (open.error) {
    node.append(element('div', 'hc-error', open.error));
  }
  if (open.showTimeline) {
    node.append(draw.timeline(open.timeline));
  }
  const tasks = open.tasks;
  if (!tasks) {
    node.append(element('div', 'hc-empty', 'Loading tasks...'));
    return node;
  }
  const rows = element('div', 'hc-bundle-tasks');
  if (tasks.tasks.length === 0) {
    rows.append(element('div', 'hc-empty', 'No tasks with this status.'));
  }
  rows.append(...tasks.tasks.map(draw.row));
  node.append(rows);
  if (tasks.total > tasks.limit) {
    const pager = element('div', 'hc-pager');
    pager.append(...pagerParts(tasks, draw.go));
    node.append(pager);
  }
  return node;
}

function button(action: string, label: string, title: string): HTMLButtonElement {
  const node = document.createElement('button');
  node.className = `hc-button hc-bundle-${action}`;
  node.dataset.bundleAction = action;
  node.textContent = label;
  node.title = title;
  return node;
}
