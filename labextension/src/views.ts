import { Widget } from '@lumino/widgets';

import { ILogChunk, requestAPI } from './request';
import { FINISHED } from './statuses';

const LOG_POLL_MS = 1000;

/** A size in bytes as people read it: 812 B, 256 KB, 12.4 MB. */
function formatBytes(n: number): string {
  if (n < 1024) {
    return `${n} B`;
  }
  if (n < 1024 * 1024) {
    return `${Math.round(n / 1024)} KB`;
  }
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * A live-tailing view of one task's log: starts from the log's tail (one bounded page),
 * loads earlier pages on request, and reads onward from the last offset until the task ends.
 */
export class LogView extends Widget {
  constructor(
    readonly root: string,
    readonly taskId: string
  ) {
    super();
    this.id = `hipercow-log-${taskId}`;
    this.title.label = `Log ${taskId.slice(0, 8)}`;
    this.title.closable = true;
    this.addClass('hc-log-view');
    this._header.className = 'hc-view-header';
    this._error.className = 'hc-error';
    this._pre.className = 'hc-log';
    this._earlier.className = 'hc-log-earlier';
    this._earlier.hidden = true;
    this._earlierButton.className = 'hc-button hc-log-earlier-button';
    this._earlierButton.textContent = 'Load earlier';
    this._earlierButton.onclick = () => void this._loadEarlier();
    this._earlier.append(this._earlierText, ' ', this._earlierButton);
    this.node.append(this._header, this._error, this._earlier, this._pre);
    this._showHeader('loading');
    void this._poll();
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  private async _poll(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    let finished = false;
    if (!document.hidden) {
      try {
        const chunk = await requestAPI<ILogChunk>(`tasks/${this.taskId}/log`, {
          root: this.root,
          // the first read is the log's tail; then onward from where the last one ended
          offset: this._offset === null ? undefined : this._offset
        });
        if (this.isDisposed) {
          return;
        }
        if (this._offset === null) {
          this._start = chunk.start;
          this._showEarlier();
        }
        if (chunk.text) {
          const atBottom =
            this._pre.scrollTop + this._pre.clientHeight >= this._pre.scrollHeight - 4;
          this._pre.append(document.createTextNode(chunk.text));
          if (atBottom) {
            this._pre.scrollTop = this._pre.scrollHeight;
          }
        }
        this._offset = chunk.offset;
        this._error.textContent = '';
        // done once the task has finished and the log is read to its end
        finished = FINISHED.includes(chunk.status) && chunk.offset >= chunk.size;
        this._showHeader(chunk.status, finished);
      } catch (error) {
        this._error.textContent = (error as Error).message;
      }
    }
    if (!finished) {
      this._timer = window.setTimeout(() => void this._poll(), LOG_POLL_MS);
    }
  }

  /** Prepend the page before what is shown, keeping the lines in view where they are. */
  private async _loadEarlier(): Promise<void> {
    this._earlierButton.disabled = true;
    try {
      const chunk = await requestAPI<ILogChunk>(`tasks/${this.taskId}/log`, {
        root: this.root,
        before: this._start
      });
      if (this.isDisposed) {
        return;
      }
      const fromBottom = this._pre.scrollHeight - this._pre.scrollTop;
      this._pre.prepend(document.createTextNode(chunk.text ?? ''));
      this._pre.scrollTop = this._pre.scrollHeight - fromBottom;
      this._start = chunk.start;
      this._error.textContent = '';
    } catch (error) {
      this._error.textContent = (error as Error).message;
    }
    this._earlierButton.disabled = false;
    this._showEarlier();
  }

  private _showEarlier(): void {
    this._earlier.hidden = this._start <= 0;
    this._earlierText.textContent = `${formatBytes(this._start)} earlier in the log not shown.`;
  }

  private _showHeader(status: string, finished = false): void {
    this._header.textContent =
      `Task ${this.taskId} · ${status}` + (finished ? '' : ' · following the log');
    this._header.dataset.status = status;
  }

  private _header = document.createElement('div');
  private _error = document.createElement('div');
  private _earlier = document.createElement('div');
  private _earlierText = document.createElement('span');
  private _earlierButton = document.createElement('button');
  private _pre = document.createElement('pre');
  /** Where the next read onward starts; null before the first (tail) read. */
  private _offset: number | null = null;
  /** Where the text shown starts: what is before it is loaded on request. */
  private _start = 0;
  private _timer = 0;
}

/** One task's `task_info`, as a table of fields. */
export class InfoView extends Widget {
  constructor(
    readonly root: string,
    readonly taskId: string
  ) {
    super();
    this.id = `hipercow-info-${taskId}`;
    this.title.label = `Info ${taskId.slice(0, 8)}`;
    this.title.closable = true;
    this.addClass('hc-info-view');
    const header = document.createElement('div');
    header.className = 'hc-view-header';
    header.textContent = `Task ${taskId}`;
    const reload = document.createElement('button');
    reload.className = 'hc-button';
    reload.textContent = 'Reload';
    reload.onclick = () => void this.load();
    header.append(' ', reload);
    this._error.className = 'hc-error';
    this._text.className = 'hc-info-text';
    this._table.className = 'hc-info';
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = 'All fields';
    details.append(summary, this._table);
    this.node.append(header, this._error, this._text, details);
    void this.load();
  }

  async load(): Promise<void> {
    try {
      const { text, ...fields } = await requestAPI<{ [key: string]: unknown }>(
        `tasks/${this.taskId}`,
        { root: this.root }
      );
      this._error.textContent = '';
      this._text.textContent = String(text ?? '');
      this._table.replaceChildren(
        ...Object.entries(fields).map(([key, value]) => {
          const row = document.createElement('tr');
          const name = document.createElement('th');
          name.textContent = key;
          const cell = document.createElement('td');
          const pre = document.createElement('pre');
          pre.textContent =
            typeof value === 'string' ? value : JSON.stringify(value, null, 2);
          cell.append(pre);
          row.append(name, cell);
          return row;
        })
      );
    } catch (error) {
      this._error.textContent = (error as Error).message;
    }
  }

  private _error = document.createElement('div');
  private _text = document.createElement('pre');
  private _table = document.createElement('table');
}
