import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { renderBundle, rowLabel } from './bundles';
import { confirmStop } from './confirm';
import { prettyDt } from './format';
import { TaskModel } from './model';
import { ITaskRow } from './request';
import { element, fillTimes, pagerParts, renderTask } from './rows';
import { FINISHED, STATUS_ORDER } from './statuses';
import { TaskSelection } from './selection';
import { timelineBox } from './timeline';

/** What the panel asks its host to do with a task. */
export interface IPanelHost {
  openLog(root: string, id: string): void;
  openInfo(root: string, id: string): void;
}

/**
 * The left side panel: the current root's bundles (each a row with its stacked bar, opened
 * to list its tasks by their parameters) and its other tasks, counts per status, filters,
 * timelines, and actions on one task, a bundle, or several tasks selected.
 */
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
    this._updated.className = 'hc-updated';
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
      this._updated,
      this._counts,
      this._error,
      this._selection.node,
      this._list,
      this._pager
    );
    this._counts.className = 'hc-counts';
    this._error.className = 'hc-error';
    this._list.className = 'hc-list';
    this._list.onclick = event => this._onAction(event);
    this._list.onchange = event => this._selection.onChange(event);

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
    this._renderUpdated();
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
    this._shown = [];
    this._selection.node.hidden = true;
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
    this._renderBundles();
    const heading = element('div', 'hc-section');
    const bundled = page.bundled ?? 0;
    heading.append(
      element('span', 'hc-section-title', bundled ? 'Tasks not in a bundle' : 'Tasks')
    );
    const timeline = element(
      'button',
      'hc-button hc-root-timeline-toggle',
      model.showTimeline ? 'Hide timeline' : 'Timeline'
    );
    timeline.title = `The root's newest tasks over time: waited and ran, by node`;
    timeline.onclick = () => (model.showTimeline = !model.showTimeline);
    heading.append(timeline);
    this._list.append(heading);
    if (model.showTimeline) {
      this._list.append(this._timeline(model.timelineRows, 'hc-timeline-root', t => t.name || t.id.slice(0, 8)));
    }
    if (page.tasks.length === 0) {
      const filtered = model.statusFilter.length > 0;
      const text = filtered
        ? 'No tasks with this status.'
        : bundled
          ? 'No tasks outside bundles.'
          : 'No tasks in this root yet.';
      this._list.append(element('div', 'hc-empty', text));
    }
    for (const task of page.tasks) {
      this._list.append(renderTask(task, this._selection.ids.has(task.id), this._now()));
    }
    this._shown = [...page.tasks, ...model.bundles.rows()];
    this._selection.render(this._shown);
    if (page.total > page.limit) {
      this._pager.append(
        ...pagerParts(page, offset => (model.offset = offset))
      );
    }
  }

  /** "updated 15:56:07", or when the last update failed, "update failed 15:56:09". */
  private _renderUpdated(): void {
    const model = this.model;
    const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour12: false });
    const failed = model.failedAt !== null;
    let text = '';
    if (failed) {
      text = `update failed ${clock(model.failedAt!)}`;
      if (model.fetchedAt) {
        text += ` (last updated ${clock(model.fetchedAt)})`;
      }
    } else if (model.fetchedAt) {
      text = `last updated ${clock(model.fetchedAt)}`;
    }
    this._updated.textContent = text;
    this._updated.title = failed ? (model.error ?? '') : 'When the panel last heard from the server';
    this._updated.classList.toggle('hc-updated-failed', failed);
  }

  /** The page of bundles: one row each, opened ones with their tasks by their rows. */
  private _renderBundles(): void {
    const list = this.model.bundles;
    const page = list.page;
    if (!page || page.bundles.length === 0) {
      return;
    }
    const heading = element('div', 'hc-section');
    heading.append(element('span', 'hc-section-title', `Bundles (${page.total})`));
    this._list.append(heading);
    for (const bundle of page.bundles) {
      const open = list.open.get(bundle.name);
      this._list.append(
        renderBundle(bundle, open, {
          row: task =>
            renderTask(task, this._selection.ids.has(task.id), this._now(), rowLabel(task)),
          timeline: rows => this._timeline(rows, 'hc-timeline-bundle', rowLabel),
          go: offset => this.model.setBundle(bundle.name, { offset: Math.max(0, offset) })
        })
      );
    }
    if (page.total > page.limit) {
      const pager = element('div', 'hc-pager hc-bundles-pager');
      pager.append(
        ...pagerParts(page, offset => {
          list.offset = Math.max(0, offset);
          void this.model.refresh();
        })
      );
      this._list.append(pager);
    }
  }

  /** A timeline of `rows` (null: still loading), as wide as the panel. */
  private _timeline(
    rows: ITaskRow[] | null,
    className: string,
    label: (task: ITaskRow) => string
  ): HTMLElement {
    const width = Math.max(200, (this._list.clientWidth || this.node.clientWidth || 300) - 24);
    return timelineBox(rows, this._now(), width, label, className);
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

  /** The server's clock now, as far as the browser can tell (null before the first page). */
  private _now(): number | null {
    const page = this.model.page;
    return page ? page.now + (Date.now() - this.model.fetchedAt) / 1000 : null;
  }

  private _tick(): void {
    const now = this._now();
    for (const task of this._shown) {
      if (!FINISHED.includes(task.status ?? '')) {
        const row = this._list.querySelector<HTMLElement>(`.hc-task[data-id="${task.id}"]`);
        if (row) {
          fillTimes(row, task, now);
        }
      }
    }
  }

  private _onAction(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const bundleButton = target.closest<HTMLButtonElement>('button[data-bundle-action]');
    if (bundleButton) {
      void this._onBundleAction(bundleButton);
      return;
    }
    const button = target.closest<HTMLButtonElement>('button[data-action]');
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

  /** Open or close a bundle, show its timeline, cancel it all or retry its failures. */
  private async _onBundleAction(button: HTMLButtonElement): Promise<void> {
    const name = button.closest<HTMLElement>('.hc-bundle')?.dataset.bundle;
    const bundle = this.model.bundles.page?.bundles.find(b => b.name === name);
    if (!name || !bundle) {
      return;
    }
    const open = this.model.bundles.open.get(name);
    switch (button.dataset.bundleAction) {
      case 'toggle':
        this.model.toggleBundle(name);
        break;
      case 'timeline':
        if (!open) {
          this.model.bundles.toggle(name);
        }
        this.model.setBundle(name, { showTimeline: !open?.showTimeline });
        break;
      case 'retry-failed':
        button.disabled = true;
        await this.model.bundleAction(name, 'retry');
        break;
      case 'cancel-all': {
        const running = bundle.counts.running ?? 0;
        const queued = bundle.counts.submitted ?? 0;
        if (running > 0) {
          const stop = await confirmStop(
            `Cancel bundle '${name}'?`,
            `Bundle '${name}' has ${running} running task${running === 1 ? '' : 's'}` +
              (queued ? ` and ${queued} queued` : '') +
              '. Cancelling stops them now: the processes of those running are killed and ' +
              'the work they have done so far is lost.',
            'Cancel all'
          );
          if (!stop) {
            return;
          }
        }
        button.disabled = true;
        await this.model.bundleAction(name, 'cancel');
        break;
      }
    }
  }

  /**
   * Cancel a task. A running one is stopped (its processes killed, its work so far lost),
   * so that asks first; a submitted one has not started and is cancelled at once.
   */
  private async _cancel(id: string, button: HTMLButtonElement): Promise<void> {
    const task = this._shown.find(t => t.id === id);
    if (task?.status === 'running') {
      const short = id.slice(0, 8);
      const label = task.original ? rowLabel(task) : task.name;
      const named = label ? `'${label}' (${short})` : short;
      const now = this._now();
      const since =
        task.started !== null && now !== null ? ` for ${prettyDt(now - task.started)}` : '';
      const where = task.node ? ` on ${task.node}` : '';
      const stop = await confirmStop(
        `Cancel running task ${short}?`,
        `Task ${named} has been running${where}${since}. Cancelling it stops it now: ` +
          'its processes are killed and the work it has done so far is lost.',
        'Cancel task'
      );
      if (!stop) {
        return;
      }
    }
    button.disabled = true;
    await this.model.cancel(id);
  }

  private _updated = document.createElement('div');
  private _selection = new TaskSelection(this.model, () => this._render());
  /** Every task row shown now: the page's and those of open bundles. */
  private _shown: ITaskRow[] = [];
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
