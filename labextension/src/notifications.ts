import { Notification } from '@jupyterlab/apputils';

import { TaskModel } from './model';
import { IBundlePage, IChanges, ITaskPage, ITaskRow, requestAPI } from './request';
import { Counts, FINISHED, sameCounts } from './statuses';

/** The settings of the notifications (the panel's settings, `schema/panel.json`). */
export interface INotifySettings {
  /** A JupyterLab notification when a task or bundle ends. */
  notifyOnEnd: boolean;
  /** Also a browser notification while the tab is hidden (once the user allowed it). */
  browserNotifications: boolean;
}

export const DEFAULT_SETTINGS: INotifySettings = {
  notifyOnEnd: true,
  browserNotifications: false
};

/** How many finished loose tasks, and bundles, one look reads to name what ended. */
const LOOSE_PAGE = 200;
const BUNDLE_PAGE = 100;
/** A notification's text is cut to this many characters (JupyterLab shows 140). */
const MAX_MESSAGE = 140;
/** A success fades after 6 s; a failure stays 15 s. */
const SUCCESS_MS = 6000;
const FAILURE_MS = 15000;


/** What notifications open: a task's log and its info, as the panel does. */
export interface INotifyActions {
  openLog: (root: string, id: string) => void;
  openInfo: (root: string, id: string) => void;
}

function unfinished(counts: Counts): number {
  return Object.entries(counts)
    .filter(([status]) => !FINISHED.includes(status))
    .reduce((sum, [, n]) => sum + n, 0);
}

function finished(counts: Counts): number {
  return FINISHED.reduce((sum, status) => sum + (counts[status] ?? 0), 0);
}

function cut(text: string, length = MAX_MESSAGE): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/** 'bundle sweep finished: 48 succeeded, 2 failed, 1 cancelled'. */
export function bundleMessage(name: string, counts: Counts): string {
  const parts: string[] = [];
  const said: [string, string][] = [
    ['success', 'succeeded'],
    ['failure', 'failed'],
    ['cancelled', 'cancelled']
  ];
  for (const [status, word] of said) {
    if ((counts[status] ?? 0) > 0) {
      parts.push(`${counts[status]} ${word}`);
    }
  }
  return `bundle ${name} finished: ${parts.join(', ')}`;
}

/** How one task's end reads: its name (or short id), how it ended and, if it failed, why. */
export function taskMessage(row: ITaskRow): string {
  const name = row.name ? `${row.name} (${row.id.slice(0, 8)})` : row.id.slice(0, 8);
  if (row.status === 'success') {
    return `task ${name} finished`;
  }
  const why = row.error || row.note || row.problem;
  const ended = row.status === 'failure' ? 'failed' : 'was cancelled';
  return `task ${name} ${ended}${why ? `: ${why}` : ''}`;
}

/**
 * Tells of each task and bundle of the panel's root that ends while this browser session
 * watches it: a JupyterLab notification (success or error, with Log and Info for a task),
 * and a browser notification while the tab is hidden, if the user allowed those.
 *
 * It learns of ends from the panel's own updates (each one the panel's long poll
 * brought): when the root's counts move, it asks the server's shared watch which tasks
 * changed since its last token, at once (no waiting, no timed poll of its own). A task
 * reported finished since is one that ended during this session; it is named from the
 * root's finished loose tasks. A bundle is told of once, when its last task ends: one
 * seen unfinished (or new since) whose tasks have all finished.
 */
export class EndNotifier {
  constructor(
    private readonly _model: TaskModel,
    private readonly _actions: INotifyActions
  ) {
    _model.changed.connect(this._onChanged, this);
  }

  /** The settings now in force; switching browser notifications on asks for permission. */
  get settings(): INotifySettings {
    return this._settings;
  }

  set settings(value: INotifySettings) {
    const switchedOn = value.browserNotifications && !this._settings.browserNotifications;
    this._settings = { ...value };
    if (!value.notifyOnEnd) {
      this._bundles = null; // looked at afresh when switched on again: no flood of old ends
    }
    if (
      switchedOn &&
      'Notification' in window &&
      window.Notification.permission === 'default'
    ) {
      void window.Notification.requestPermission();
    }
  }

  dispose(): void {
    this._model.changed.disconnect(this._onChanged, this);
    this._root = null;
  }

  private _onChanged(): void {
    const root = this._model.root;
    if (root !== this._root) {
      this._root = root;
      this._token = null;
      this._known = null;
      this._bundles = null;
    }
    const page = this._model.page;
    if (root === null || page === null || page.root !== root) {
      return;
    }
    if (this._known !== null && sameCounts(this._known, page.counts)) {
      return;
    }
    if (this._busy) {
      this._again = true;
      return;
    }
    void this._look(root);
  }

  private async _look(root: string): Promise<void> {
    this._busy = true;
    try {
      do {
        this._again = false;
        await this._lookOnce(root);
      } while (this._again && root === this._root);
    } catch (error) {
      console.warn('hipercow: could not tell which tasks ended:', error);
    } finally {
      this._busy = false;
    }
  }

  private async _lookOnce(root: string): Promise<void> {
    if (this._token === null) {
      const [now, bundles] = await Promise.all([
        requestAPI<IChanges>('changes', { root }),
        this._settings.notifyOnEnd ? this._bundleCounts(root) : null
      ]);
      if (root === this._root) {
        this._token = now.token;
        this._known = now.counts;
        this._bundles = bundles; // what is unfinished now; what finished before is not told
      }
      return;
    }
    const answer = await requestAPI<IChanges>('changes', {
      root,
      since: this._token,
      timeout: 0
    });
    if (root !== this._root) {
      return;
    }
    this._token = answer.token;
    this._known = answer.counts;
    if (!this._settings.notifyOnEnd) {
      return;
    }
    if (answer.changed === null) {
      // the server can't say what changed: start again from what is there now
      this._bundles = await this._bundleCounts(root);
      return;
    }
    const ended = answer.changed.filter(
      c => c.status !== null && FINISHED.includes(c.status) && !this._told.has(c.id)
    );
    if (ended.length === 0) {
      return;
    }
    ended.forEach(c => this._told.add(c.id));
    const bundles = await this._bundleCounts(root);
    if (root !== this._root) {
      return;
    }
    // The panel's page (it lists loose tasks: bundles' tasks are under their bundles) names
    // most of them; a task not on it is one of a bundle's when the bundles account for it,
    // else the finished loose tasks are read.
    const rows = new Map((this._model.page?.tasks ?? []).map(row => [row.id, row]));
    const unnamed = ended.filter(c => rows.get(c.id)?.status !== c.status);
    const before = this._bundles ?? bundles; // null: switched on since; no bundle ends yet
    let bundled = 0;
    for (const [name, counts] of bundles) {
      const earlier = before.get(name);
      bundled += Math.max(0, finished(counts) - (earlier ? finished(earlier) : 0));
    }
    if (unnamed.length > bundled) {
      const loose = await requestAPI<ITaskPage>('tasks', {
        root,
        loose: 1,
        status: FINISHED.join(','),
        limit: LOOSE_PAGE
      });
      if (root !== this._root) {
        return;
      }
      loose.tasks.forEach(row => rows.set(row.id, row));
    }
    for (const change of ended) {
      const row = rows.get(change.id);
      if (row !== undefined && row.status === change.status) {
        this._tell(root, row);
      }
    }
    for (const [name, counts] of bundles) {
      const earlier = before.get(name);
      const wasOpen = earlier === undefined || unfinished(earlier) > 0;
      if (wasOpen && finished(counts) > 0 && unfinished(counts) === 0) {
        this._tellBundle(name, counts);
      }
    }
    this._bundles = bundles;
  }

  private async _bundleCounts(root: string): Promise<Map<string, Counts>> {
    const page = await requestAPI<IBundlePage>('bundles', { root, limit: BUNDLE_PAGE });
    return new Map(page.bundles.map(b => [b.name, b.counts]));
  }

  private _tell(root: string, row: ITaskRow): void {
    const message = taskMessage(row);
    const ok = row.status === 'success';
    const actions: Notification.IAction[] = [
      { label: 'Log', callback: () => this._actions.openLog(root, row.id) },
      {
        label: 'Info',
        callback: () => this._actions.openInfo(root, row.id),
        displayType: 'link'
      }
    ];
    const options = { autoClose: ok ? SUCCESS_MS : FAILURE_MS, actions };
    if (ok) {
      Notification.success(cut(message), options);
    } else if (row.status === 'failure') {
      Notification.error(cut(message), options);
    } else {
      Notification.warning(cut(message), options);
    }
    this._browser(message, row.id);
  }

  private _tellBundle(name: string, counts: Counts): void {
    const message = bundleMessage(name, counts);
    const ok = (counts.success ?? 0) === Object.values(counts).reduce((a, b) => a + b, 0);
    const options = { autoClose: ok ? SUCCESS_MS : FAILURE_MS };
    if (ok) {
      Notification.success(cut(message), options);
    } else {
      Notification.error(cut(message), options);
    }
    this._browser(message, `bundle-${name}`);
  }

  /** A browser notification, only while the tab is hidden and if the user allowed them. */
  private _browser(message: string, tag: string): void {
    if (
      !this._settings.browserNotifications ||
      !document.hidden ||
      !('Notification' in window) ||
      window.Notification.permission !== 'granted'
    ) {
      return;
    }
    const shown = new window.Notification('hipercow', { body: message, tag });
    shown.onclick = () => {
      window.focus();
      shown.close();
    };
  }

  private _settings: INotifySettings = { ...DEFAULT_SETTINGS };
  private _root: string | null = null;
  /** The token of the last answer of the server's watch of the root. */
  private _token: string | null = null;
  /** The root's counts in that answer: a look is due when the panel's counts differ. */
  private _known: Counts | null = null;
  /** Each bundle's counts at the last look (null: not looked at yet). */
  private _bundles: Map<string, Counts> | null = null;
  /** Tasks already told of. */
  private _told = new Set<string>();
  private _busy = false;
  private _again = false;
}
