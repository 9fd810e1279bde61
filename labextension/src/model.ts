import { ISignal, Signal } from '@lumino/signaling';

import { BundleList } from './bundles';
import { clusterLine } from './cluster';
import {
  IDLE_POLL_MS,
  KERNEL_IDLE_WAIT_MS,
  NO_ROOT_POLL_MS,
  ROOT_TIMELINE_LIMIT,
  pollDelay
} from './polling';
import { ChangesListener } from './listener';
import { RootFinder, RootSearch } from './roots';
import {
  HipercowRequestError,
  IChanges,
  ITaskPage,
  ITaskRow,
  requestAPI
} from './request';
import { ACTIVE, sameCounts } from './statuses';

/**
 * The task table of the current root, fetched from the server.
 *
 * A request to the server's `changes` long poll is always waiting: it answers as soon as
 * a task of the root starts or ends, and the table is fetched again at once (in a hidden
 * tab too: an answer costs nothing until something changes). Timed polls come on top:
 * fast while something is submitted or running and the long poll is failing, every 5 s
 * while a running task's live usage is shown, every 10 s while it works (tasks submitted
 * elsewhere), slowly (with back-off) when idle, only for
 * counts while the panel is hidden, and not at all while the browser tab is hidden. While
 * no root holds the followed folder, it looks for one every few seconds, on Refresh, and
 * whenever a notebook's kernel finishes running code.
 */
export class TaskModel {
  constructor() {
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /** Emitted whenever anything the panel shows may have changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The root whose tasks are shown: a path relative to the server's root folder. */
  get root(): string | null {
    return this._root;
  }

  /** The root found from the file browser or notebook, used unless one is pinned. */
  get followedRoot(): string | null {
    return this._finder.followed;
  }

  /** The root chosen in the panel's menu, or null when following the file browser. */
  get pinned(): string | null {
    return this._pinned;
  }

  /** The roots the server serves, for the panel's menu. */
  get roots(): string[] {
    return this._finder.roots;
  }

  /** Why the server stopped looking for roots early (the menu lists what it found), or null. */
  get rootsMessage(): string | null {
    return this._finder.message;
  }

  /** The root's cluster in one line (driver, nodes, cores, memory), when a driver is set. */
  get cluster(): string | null {
    return this._cluster;
  }

  /** The server's word on why the cluster could not be described (null: it was, or no driver). */
  get clusterError(): string | null {
    return this._clusterError;
  }

  /** The last page of tasks fetched, with counts per status. */
  get page(): ITaskPage | null {
    return this._page;
  }

  /** Why the last poll failed, or null. */
  get error(): string | null {
    return this._error;
  }

  /** Why the last cancel or retry did not happen, or null. */
  get actionError(): string | null {
    return this._actionError;
  }

  /** When the last page arrived, in browser time (ms). */
  get fetchedAt(): number {
    return this._fetchedAt;
  }

  /** When the last update was asked for and failed (browser time, ms), or null. */
  get failedAt(): number | null {
    return this._failedAt;
  }

  /** The root's bundles, and the tasks of those opened in the panel. */
  readonly bundles = new BundleList();

  /** The root's newest tasks (bundled or not) the root's timeline draws, while shown. */
  get timelineRows(): ITaskRow[] | null {
    return this._timelineRows;
  }

  /** Whether the root's timeline is shown (its rows are fetched on each update). */
  get showTimeline(): boolean {
    return this._showTimeline;
  }

  set showTimeline(value: boolean) {
    this._showTimeline = value;
    this._timelineRows = null;
    void this.refresh();
  }

  get statusFilter(): string[] {
    return this._statusFilter;
  }

  set statusFilter(value: string[]) {
    this._statusFilter = value;
    this._offset = 0;
    void this.refresh();
  }

  get offset(): number {
    return this._offset;
  }

  set offset(value: number) {
    this._offset = Math.max(0, value);
    void this.refresh();
  }

  readonly limit = 50;

  /** Whether the panel is showing (full pages) or not (counts only, slowly). */
  set panelVisible(value: boolean) {
    if (value === this._panelVisible) {
      return;
    }
    this._panelVisible = value;
    if (value) {
      void this.refresh();
    }
  }

  /** Find the root holding `path` (a file or folder relative to the server root). */
  async follow(path: string): Promise<void> {
    if (path === this._finder.path && this._finder.followed !== null) {
      return;
    }
    this._finder.path = path;
    await this.locate('shared');
  }

  /**
   * Ask the server again which root holds the followed path, so a root made since (with
   * `%hipercow init`) is found, with the menu's list of roots (see `RootFinder.locate`).
   */
  async locate(search: RootSearch = 'none'): Promise<void> {
    const problem = await this._finder.locate(search);
    if (problem === undefined) {
      return;
    }
    this._error = problem;
    this._setRoot();
  }

  /** Show `root` whatever the file browser shows; null goes back to following it. */
  pin(root: string | null): void {
    this._pinned = root;
    this._setRoot();
  }

  /**
   * A kernel finished running code: it may have made a root (look for it again) or
   * submitted tasks (poll now, and fast again).
   */
  kernelIdle(): void {
    this._idleDelay = IDLE_POLL_MS;
    // one look for a run of cells finishing one after another (Run All)
    window.clearTimeout(this._idleTimer);
    this._idleTimer = window.setTimeout(() => void this.locate(), KERNEL_IDLE_WAIT_MS);
  }

  /** Look for the root again, ask about the cluster again, then poll now (Refresh). */
  async reload(): Promise<void> {
    await this.locate('fresh');
    const root = this._root;
    await Promise.all([
      root === null ? Promise.resolve() : this._fetchCluster(root),
      this.refresh()
    ]);
  }

  /** Cancel a submitted or running task of the current root, then poll. */
  async cancel(id: string): Promise<void> {
    await this._act(id, 'cancel');
  }

  /** Run a finished task again as a new task, then poll. */
  async retry(id: string): Promise<void> {
    await this._act(id, 'retry');
  }

  /**
   * Cancel several tasks at once, then poll; the tasks not cancelled (they had ended
   * meanwhile) are said in `actionError`.
   */
  async cancelMany(ids: string[]): Promise<void> {
    await this._post('cancel', 'cancel the selected tasks', JSON.stringify({ ids }), answer => {
      const kept = (answer.cancelled as boolean[]).filter(c => !c).length;
      return kept ? `${kept} of ${ids.length} selected tasks were not cancelled: they had ended` : null;
    });
  }

  /** Cancel a bundle's queued and running tasks, or retry its failed ones; then poll. */
  async bundleAction(name: string, action: 'cancel' | 'retry'): Promise<void> {
    const endpoint = `bundles/${encodeURIComponent(name)}/${action}`;
    await this._post(endpoint, `${action} bundle '${name}'`, undefined, answer =>
      action === 'retry' && answer.retried === 0 ? `Bundle '${name}' has nothing to retry` : null
    );
  }

  /** Say why an action was not taken (null: nothing to say). */
  say(message: string | null): void {
    this._actionError = message;
    this._changed.emit();
  }

  /** Open a bundle's row in the panel, or close it, and fetch what it shows. */
  toggleBundle(name: string): void {
    this.bundles.toggle(name);
    void this.refresh();
  }

  /** Show or hide an open bundle's timeline, or move to another page of its tasks. */
  setBundle(name: string, change: { showTimeline?: boolean; offset?: number }): void {
    const open = this.bundles.open.get(name);
    if (open) {
      Object.assign(open, change);
      void this.refresh();
    }
  }

  /** Fetch now, and schedule the next poll. */
  async refresh(): Promise<void> {
    window.clearTimeout(this._timer);
    this._timer = 0;
    const root = this._root;
    if (root === null) {
      this._page = null;
      this._changed.emit();
      this._schedule();
      return;
    }
    const generation = ++this._generation;
    try {
      const visible = this._panelVisible;
      const [page, timeline] = await Promise.all([
        requestAPI<ITaskPage>('tasks', {
          root,
          status: this._statusFilter.join(',') || undefined,
          offset: this._offset,
          limit: visible ? this.limit : 0,
          loose: 1
        }),
        visible && this._showTimeline
          ? requestAPI<ITaskPage>('tasks', { root, limit: ROOT_TIMELINE_LIMIT })
          : Promise.resolve(null),
        visible ? this.bundles.fetch(root, this._statusFilter) : Promise.resolve()
      ]);
      if (generation !== this._generation) {
        return;
      }
      this._page = page;
      this._timelineRows = timeline?.tasks ?? null;
      this._fetchedAt = Date.now();
      this._failedAt = null;
      this._error = null;
    } catch (error) {
      if (generation !== this._generation) {
        return;
      }
      this._error = (error as Error).message;
      this._failedAt = Date.now();
      if ((error as HipercowRequestError).status === 404) {
        this._page = null;
      }
    }
    this._changed.emit();
    this._schedule();
  }

  dispose(): void {
    this._changes.listen(null);
    window.clearTimeout(this._timer);
    window.clearTimeout(this._idleTimer);
    document.removeEventListener('visibilitychange', this._onVisibility);
  }

  private async _post(
    endpoint: string,
    doing: string,
    body: string | undefined,
    said: (answer: { [key: string]: unknown }) => string | null
  ): Promise<void> {
    const root = this._root;
    if (root === null) {
      return;
    }
    try {
      const answer = await requestAPI<{ [key: string]: unknown }>(
        endpoint,
        { root },
        { method: 'POST', body }
      );
      this._actionError = said(answer);
    } catch (error) {
      this._actionError = `Could not ${doing}: ${(error as Error).message}`;
    }
    await this.refresh();
  }

  private async _act(id: string, action: 'cancel' | 'retry'): Promise<void> {
    const short = id.slice(0, 8);
    await this._post(`tasks/${id}/${action}`, `${action} task ${short}`, undefined, answer =>
      answer.cancelled === false
        ? `Task ${short} was not cancelled: its status is '${answer.status}'`
        : null
    );
  }

  private _setRoot(): void {
    const root = this._pinned ?? this._finder.followed;
    if (root !== this._root) {
      this._root = root;
      this._page = null;
      this._timelineRows = null;
      this.bundles.clear();
      this._offset = 0;
      this._idleDelay = IDLE_POLL_MS;
      this._cluster = null;
      this._clusterError = null;
      this._actionError = null;
      if (root !== null) {
        void this._fetchCluster(root);
      }
      this._changes.listen(root);
    }
    void this.refresh();
  }

  /** A long-poll answer: fetch the table again if a task changed or the counts differ. */
  private async _onChanges(answer: IChanges): Promise<void> {
    const page = this._page;
    const changed = answer.changed === null || answer.changed.length > 0;
    if (page !== null && (changed || !sameCounts(answer.counts, page.counts))) {
      await this.refresh();
    }
  }

  /** Describe the root's cluster in one line (see `clusterLine`). */
  private async _fetchCluster(root: string): Promise<void> {
    const { line, problem } = await clusterLine(root);
    if (root === this._root) {
      this._cluster = line;
      this._clusterError = problem;
      this._changed.emit();
    }
  }

  private _schedule(): void {
    window.clearTimeout(this._timer);
    if (document.hidden) {
      return;
    }
    if (this._root === null) {
      // No root here yet: look again now and then, so one made since shows by itself.
      this._timer = window.setTimeout(() => void this.locate(), NO_ROOT_POLL_MS);
      return;
    }
    const counts = this._page?.counts ?? {};
    const active = ACTIVE.some(s => (counts[s] ?? 0) > 0);
    // a running task's live usage shown: look again soon, to keep it current
    const live = [...(this._page?.tasks ?? []), ...this.bundles.rows()].some(
      t => t.status === 'running' && !!t.usage
    );
    const delay = pollDelay(
      { active, visible: this._panelVisible, listening: this._changes.listening, live },
      this._error !== null,
      this._idleDelay
    );
    this._idleDelay = delay.idle;
    this._timer = window.setTimeout(() => void this.refresh(), delay.now);
  }

  private _onVisibility = (): void => {
    if (document.hidden) {
      window.clearTimeout(this._timer);
      this._timer = 0;
    } else if (this._root === null) {
      void this.locate();
    } else {
      void this.refresh();
    }
  };

  private _changed = new Signal<this, void>(this);
  private _root: string | null = null;
  private _finder = new RootFinder();
  private _pinned: string | null = null;
  private _page: ITaskPage | null = null;
  private _cluster: string | null = null;
  private _clusterError: string | null = null;
  private _actionError: string | null = null;
  private _error: string | null = null;
  private _fetchedAt = 0;
  private _failedAt: number | null = null;
  private _showTimeline = false;
  private _timelineRows: ITaskRow[] | null = null;
  private _statusFilter: string[] = [];
  private _offset = 0;
  private _panelVisible = false;
  private _timer = 0;
  private _idleTimer = 0;
  private _generation = 0;
  private _idleDelay = IDLE_POLL_MS;
  private _changes = new ChangesListener(answer => this._onChanges(answer));
}
