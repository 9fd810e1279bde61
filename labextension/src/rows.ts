import { prettyDt } from './format';
import { ITaskRow } from './request';
import { ACTIVE, FINISHED } from './statuses';

/** A new element with a class and text. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function action(name: string, label: string): HTMLButtonElement {
  const button = element('button', `hc-button hc-action-${name}`, label);
  button.dataset.action = name;
  return button;
}

/**
 * One task's row: a check box (to act on several), its status, name (or, in a bundle,
 * its row's parameters), resources, node, job id, waited / ran for, clock times, what it
 * uses (live while it runs) or used, which attempt it is, why it waits or how it failed,
 * and its actions.
 */
export function renderTask(
  task: ITaskRow,
  selected: boolean,
  now: number | null,
  label?: string
): HTMLElement {
  // a bundle's task (named by its row): its resources are the bundle's, its clock times a
  // tooltip, so that a sweep's rows stay short
  const compact = label !== undefined;
  const row = element('div', 'hc-task');
  row.dataset.id = task.id;
  const status = task.status ?? 'unknown';
  row.dataset.status = status;
  const top = element('div', 'hc-task-top');
  const check = element('input', 'hc-select');
  check.type = 'checkbox';
  check.checked = selected;
  check.title = 'Select, to cancel several tasks at once';
  check.setAttribute('aria-label', `Select task ${task.id.slice(0, 8)}`);
  const badge = element('span', `hc-badge hc-status-${status}`, status);
  const name = element('span', 'hc-name', label ?? (task.name || task.id.slice(0, 8)));
  name.title = task.id;
  top.append(check, badge, name, element('span', 'hc-type', task.type ?? ''));
  const meta = element('div', 'hc-meta');
  if (task.resources && !compact) {
    meta.append(element('span', 'hc-resources', task.resources));
  }
  if (task.node) {
    const where = status === 'running' ? 'on' : 'ran on';
    meta.append(element('span', 'hc-node', `${where} ${task.node}`));
  }
  if (task.job_id) {
    meta.append(element('span', 'hc-job', `job ${task.job_id}`));
  }
  meta.append(element('span', 'hc-times'));
  // created 15:56:07 · started 15:56:08 · finished 15:56:12 (each kept on one line)
  const clock = element('div', 'hc-clock');
  (['created', 'started', 'finished'] as const)
    .filter(k => task.clock?.[k])
    .forEach((k, n) => {
      clock.append(n ? ' · ' : '', element('span', 'hc-clock-time', `${k} ${task.clock[k]}`));
    });
  if (compact) {
    row.classList.add('hc-task-compact');
    row.title = clock.textContent ?? '';
    row.append(top, meta);
  } else {
    row.append(top, meta, clock);
  }
  if (task.usage) {
    row.append(usageLine(task.usage, status === 'running'));
  }
  if (task.attempt) {
    row.append(element('div', 'hc-attempt', task.attempt));
  }
  if (status === 'submitted' && task.pending) {
    const pending = element('div', 'hc-pending', task.pending);
    if (task.pending_action) {
      pending.append(element('div', 'hc-pending-action', task.pending_action));
    }
    row.append(pending);
  } else if (task.note) {
    row.append(element('div', 'hc-note', task.note));
  }
  if (status === 'failure' && task.error) {
    const error = element('div', 'hc-error-line', task.error);
    error.title = task.error;
    row.append(error);
  }
  if (task.problem) {
    row.classList.add('hc-unreadable');
    const problem = element('div', 'hc-problem', `⚠ unreadable: ${task.problem}`);
    problem.title = 'This task is listed with what its files still say.';
    row.append(problem);
  }
  const actions = element('div', 'hc-actions');
  actions.append(action('log', 'Log'), action('info', 'Info'));
  if (ACTIVE.includes(status)) {
    actions.append(action('cancel', 'Cancel'));
  } else if (FINISHED.includes(status) && !task.problem) {
    actions.append(action('retry', 'Retry'));
  }
  if (compact) {
    meta.append(actions); // on the line of its node and times
  } else {
    row.append(actions);
  }
  fillTimes(row, task, now);
  return row;
}

/** What a task uses while it runs (marked live), or used once it has ended. */
function usageLine(words: string, live: boolean): HTMLElement {
  const line = element('div', `hc-usage${live ? ' hc-usage-live' : ''}`, words);
  line.title = live
    ? 'What the task uses now: cores busy and memory, of what it asked for'
    : 'What the task used: average cores and peak memory, of what it asked for';
  return line;
}

/** waited / ran for; still counting (from the server's clock `now`) while unfinished. */
export function fillTimes(row: HTMLElement, task: ITaskRow, now: number | null): void {
  const parts: string[] = [];
  let waited = task.waited;
  if (
    waited === null &&
    task.created !== null &&
    now !== null &&
    !FINISHED.includes(task.status ?? '')
  ) {
    waited = now - task.created;
  }
  if (waited !== null) {
    parts.push(`waited ${prettyDt(waited)}`);
  }
  let ranFor = task.ran_for;
  if (task.status === 'running' && task.started !== null && now !== null) {
    ranFor = now - task.started;
  }
  if (ranFor !== null) {
    parts.push(`ran for ${prettyDt(ranFor)}`);
  }
  const times = row.querySelector('.hc-times');
  if (times) {
    times.textContent = parts.join(' · ');
  }
}

/** Newer / "1-50 of 120" / Older, for a page at `offset` of `total`, `limit` a page. */
export function pagerParts(
  page: { offset: number; limit: number; total: number },
  go: (offset: number) => void
): HTMLElement[] {
  const prev = element('button', 'hc-button', 'Newer');
  prev.disabled = page.offset === 0;
  prev.onclick = () => go(page.offset - page.limit);
  const next = element('button', 'hc-button', 'Older');
  next.disabled = page.offset + page.limit >= page.total;
  next.onclick = () => go(page.offset + page.limit);
  const where = `${page.offset + 1}-${Math.min(page.offset + page.limit, page.total)} of ${page.total}`;
  return [prev, element('span', 'hc-pager-text', where), next];
}
