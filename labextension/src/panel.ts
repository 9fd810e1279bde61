import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { prettyDt } from './format';
import { TaskModel } from './model';
import { ITaskRow } from './request';
import { ACTIVE, FINISHED, STATUS_ORDER } from './statuses';

/** What the panel asks its host to do with a task. */
export interface IPanelHost {
  openLog(root: string, id: string): void;
  openInfo(root: string, id: string): void;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/** The left side panel: the current root's tasks, counts per status, filters and actions. */
export class TaskPanel extends Widget {
  constructor(
    readonly model: TaskModel,
    readonly host: IPanelHost
  ) {
    super();
    this.id = 'hipercow-tasks';
    this.addClass('hc-panel');
    this.title.caption = 'hipercow tasks';

    const header = element('div', 'hc-header');
    header.append(element('span', 'hc-title', 'hipercow tasks'), this._refresh);
    this._refresh.className = 'hc-button hc-refresh';
    this._refresh.textContent = 'Refresh';
    this._refresh.title = 'Ask the server about the cluster and the tasks now';
    this._refresh.onclick = () => void model.reload();

    const rootLine = element('label', 'hc-root-line', 'Root ');
    this._rootSelect.className = 'hc-root';
    this._rootSelect.onchange = () => model.pin(this._rootSelect.value || null);
    rootLine.append(this._rootSelect);

    this._pager.className = 'hc-pager';
    this._cluster.className = 'hc-cluster';
    this._rootsNote.className = 'hc-roots-note';
    this.node.append(
      header,
      rootLine,
      this._rootsNote,
      this._cluster,
      this._counts,
      this._error,
      this._list,
      this._pager
    );
    this._counts.className = 'hc-counts';
    this._error.className = 'hc-error';
    this._list.className = 'hc-list';
    this._list.onclick = event => this._onAction(event);

    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    window.clearInterval(this._ticker);
    this.model.changed.disconnect(this._render, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    this.model.panelVisible = true;
    this._ticker = window.setInterval(() => this._tick(), 1000);
  }

  protected onAfterHide(msg: Message): void {
    this.model.panelVisible = false;
    window.clearInterval(this._ticker);
  }

  private _render(): void {
    const model = this.model;
    this._renderRoots();
    // A cluster error the task list reports too (a root gone) is said once, below.
    const clusterError = model.clusterError !== model.error ? model.clusterError : null;
    this._cluster.textContent = clusterError ?? model.cluster ?? '';
    this._cluster.title = this._cluster.textContent;
    this._cluster.classList.toggle('hc-cluster-error', clusterError !== null);
    const page = model.page;
    this._error.textContent = model.actionError ?? model.error ?? '';
    this._error.hidden = !this._error.textContent;
    this._counts.replaceChildren();
    this._list.replaceChildren();
    this._pager.replaceChildren();
    if (model.root === null) {
      this._list.append(
        element(
          'div',
          'hc-empty',
          'No hipercow root here. Open a folder (or notebook) inside a root, ' +
            'or create one with %hipercow init.'
        )
      );
      return;
    }
    if (page) {
      this._renderCounts(page.counts);
    }
    // A page of counts only (polled while the panel was hidden) has no rows to show yet.
    if (!page || page.limit === 0) {
      if (!model.error) {
        this._list.append(element('div', 'hc-empty', 'Loading tasks...'));
      }
      return;
    }
    if (page.tasks.length === 0) {
      const filtered = model.statusFilter.length > 0;
      this._list.append(
        element(
          'div',
          'hc-empty',
          filtered ? 'No tasks with this status.' : 'No tasks in this root yet.'
        )
      );
    }
    for (const task of page.tasks) {
      this._list.append(this._renderTask(task));
    }
    if (page.total > page.limit) {
      const prev = element('button', 'hc-button', 'Newer');
      prev.disabled = page.offset === 0;
      prev.onclick = () => (model.offset = page.offset - page.limit);
      const next = element('button', 'hc-button', 'Older');
      next.disabled = page.offset + page.limit >= page.total;
      next.onclick = () => (model.offset = page.offset + page.limit);
      const where = `${page.offset + 1}-${Math.min(page.offset + page.limit, page.total)} of ${page.total}`;
      this._pager.append(prev, element('span', 'hc-pager-text', where), next);
    }
  }

  private _renderRoots(): void {
    const model = this.model;
    this._rootsNote.textContent = model.rootsMessage ?? '';
    this._rootsNote.title = this._rootsNote.textContent;
    this._rootsNote.hidden = !model.rootsMessage;
    const followed = model.followedRoot;
    const options = [new Option(`Follow file browser (${followed ?? 'none'})`, '')];
    for (const root of model.roots) {
      options.push(new Option(root, root));
    }
    if (model.pinned && !model.roots.includes(model.pinned)) {
      options.push(new Option(model.pinned, model.pinned));
    }
    this._rootSelect.replaceChildren(...options);
    this._rootSelect.value = model.pinned ?? '';
  }

  private _renderCounts(counts: { [status: string]: number }): void {
    const filter = this.model.statusFilter;
    const all = element('button', 'hc-count', 'all');
    all.classList.toggle('hc-selected', filter.length === 0);
    all.onclick = () => (this.model.statusFilter = []);
    this._counts.append(all);
    for (const status of STATUS_ORDER) {
      const chip = element('button', `hc-count hc-status-${status}`);
      chip.dataset.status = status;
      chip.append(
        element('span', 'hc-count-label', status),
        element('span', 'hc-count-number', String(counts[status] ?? 0))
      );
      chip.classList.toggle('hc-selected', filter.includes(status));
      chip.title = `Show only ${status} tasks (click again to show all)`;
      chip.onclick = () =>
        (this.model.statusFilter = filter.includes(status) ? [] : [status]);
      this._counts.append(chip);
    }
  }

  private _renderTask(task: ITaskRow): HTMLElement {
    const row = element('div', 'hc-task');
    row.dataset.id = task.id;
    const status = task.status ?? 'unknown';
    row.dataset.status = status;
    const top = element('div', 'hc-task-top');
    const badge = element('span', `hc-badge hc-status-${status}`, status);
    const name = element('span', 'hc-name', task.name || task.id.slice(0, 8));
    name.title = task.id;
    top.append(badge, name, element('span', 'hc-type', task.type ?? ''));
    const meta = element('div', 'hc-meta');
    if (task.resources) {
      meta.append(element('span', 'hc-resources', task.resources));
    }
    if (task.node) {
      const where = status === 'running' ? 'on' : 'ran on';
      meta.append(element('span', 'hc-node', `${where} ${task.node}`));
    }
    meta.append(element('span', 'hc-times'));
    // created 15:56:07 · started 15:56:08 · finished 15:56:12 (each kept on one line)
    const clock = element('div', 'hc-clock');
    (['created', 'started', 'finished'] as const)
      .filter(k => task.clock?.[k])
      .forEach((k, n) => {
        clock.append(n ? ' · ' : '', element('span', 'hc-clock-time', `${k} ${task.clock[k]}`));
      });
    const actions = element('div', 'hc-actions');
    actions.append(this._action('log', 'Log'), this._action('info', 'Info'));
    if (ACTIVE.includes(status)) {
      actions.append(this._action('cancel', 'Cancel'));
    } else if (FINISHED.includes(status) && !task.problem) {
      actions.append(this._action('retry', 'Retry'));
    }
    row.append(top, meta, clock);
    if (task.note) {
      row.append(element('div', 'hc-note', task.note));
    }
    if (task.problem) {
      row.classList.add('hc-unreadable');
      const problem = element('div', 'hc-problem', `⚠ unreadable: ${task.problem}`);
      problem.title = 'This task is listed with what its files still say.';
      row.append(problem);
    }
    row.append(actions);
    this._fillTimes(row, task);
    return row;
  }

  private _action(action: string, label: string): HTMLButtonElement {
    const button = element('button', `hc-button hc-action-${action}`, label);
    button.dataset.action = action;
    return button;
  }

  /** The server's clock now, as far as the browser can tell (null before the first page). */
  private _now(): number | null {
    const page = this.model.page;
    return page ? page.now + (Date.now() - this.model.fetchedAt) / 1000 : null;
  }

  /** waited / ran for; still counting (from the server's clock) while unfinished. */
  private _fillTimes(row: HTMLElement, task: ITaskRow): void {
    const now = this._now();
    const parts: string[] = [];
    let waited = task.waited;
    if (waited === null && task.created !== null && now !== null && !FINISHED.includes(task.status ?? '')) {
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

  private _tick(): void {
    const page = this.model.page;
    if (!page) {
      return;
    }
    for (const task of page.tasks) {
      if (!FINISHED.includes(task.status ?? '')) {
        const row = this._list.querySelector<HTMLElement>(`.hc-task[data-id="${task.id}"]`);
        if (row) {
          this._fillTimes(row, task);
        }
      }
    }
  }

  private _onAction(event: MouseEvent): void {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
    const row = button?.closest<HTMLElement>('.hc-task');
    const root = this.model.root;
    if (!button || !row || root === null) {
      return;
    }
    const id = row.dataset.id!;
    switch (button.dataset.action) {
      case 'log':
        this.host.openLog(root, id);
        break;
      case 'info':
        this.host.openInfo(root, id);
        break;
      case 'cancel':
        void this._cancel(id, button);
        break;
      case 'retry':
        button.disabled = true;
        void this.model.retry(id);
        break;
    }
  }

  /**
   * Cancel a task. A running one is stopped (its processes killed, its work so far lost),
   * so that asks first; a submitted one has not started and is cancelled at once.
   */
  private async _cancel(id: string, button: HTMLButtonElement): Promise<void> {
    const task = this.model.page?.tasks.find(t => t.id === id);
    if (task?.status === 'running') {
      const short = id.slice(0, 8);
      const named = task.name ? `'${task.name}' (${short})` : short;
      const now = this._now();
      const since =
        task.started !== null && now !== null ? ` for ${prettyDt(now - task.started)}` : '';
      const where = task.node ? ` on ${task.node}` : '';
      const body = element(
        'div',
        'hc-cancel-body',
        `Task ${named} has been running${where}${since}. Cancelling it stops it now: ` +
          'its processes are killed and the work it has done so far is lost.'
      );
      const answer = await showDialog({
        title: `Cancel running task ${short}?`,
        body: new Widget({ node: body }),
        buttons: [
          Dialog.cancelButton({ label: 'Keep running' }),
          Dialog.warnButton({ label: 'Cancel task' })
        ],
        defaultButton: 0 // Enter keeps it running: stopping takes a deliberate click
      });
      if (!answer.button.accept) {
        return;
      }
    }
    button.disabled = true;
    await this.model.cancel(id);
  }

  private _rootSelect = document.createElement('select');
  private _rootsNote = document.createElement('div');
  private _refresh = document.createElement('button');
  private _cluster = document.createElement('div');
  private _counts = document.createElement('div');
  private _error = document.createElement('div');
  private _list = document.createElement('div');
  private _pager = document.createElement('div');
  private _ticker = 0;
}
