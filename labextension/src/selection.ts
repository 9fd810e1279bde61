import { confirmStop } from './confirm';
import { TaskModel } from './model';
import { ITaskRow } from './request';
import { element } from './rows';

/**
 * The tasks selected with their check boxes, and the bar that says how many and cancels
 * them at once (asking first when some are running, as for one running task).
 */
export class TaskSelection {
  constructor(
    private _model: TaskModel,
    private _rerender: () => void
  ) {
    this.node.className = 'hc-selection';
    this.node.hidden = true;
  }

  /** The bar: how many are selected, Cancel selected, Clear. */
  readonly node = document.createElement('div');
  /** The ids of the tasks selected. */
  readonly ids = new Set<string>();

  /** The bar saying how many tasks are selected, to cancel them at once. */
  render(shown: ITaskRow[]): void {
    this._shown = shown;
    const listed = new Set(shown.map(t => t.id));
    for (const id of [...this.ids]) {
      if (!listed.has(id)) {
        this.ids.delete(id); // no longer listed (another page, a bundle closed)
      }
    }
    this.node.replaceChildren();
    const n = this.ids.size;
    this.node.hidden = n === 0;
    if (n === 0) {
      return;
    }
    const cancel = element('button', 'hc-button hc-cancel-selected', 'Cancel selected');
    cancel.onclick = () => void this._cancel(cancel);
    const clear = element('button', 'hc-button hc-clear-selected', 'Clear');
    clear.onclick = () => {
      this.ids.clear();
      this._rerender();
    };
    this.node.append(
      element('span', 'hc-selection-text', `${n} task${n === 1 ? '' : 's'} selected`),
      cancel,
      clear
    );
  }

  /** A check box changed: select or unselect its task. */
  onChange(event: Event): void {
    const check = event.target as HTMLInputElement;
    const row = check.closest<HTMLElement>('.hc-task');
    if (!check.classList.contains('hc-select') || !row) {
      return;
    }
    if (check.checked) {
      this.ids.add(row.dataset.id!);
    } else {
      this.ids.delete(row.dataset.id!);
    }
    this.render(this._shown);
  }

  /**
   * Cancel the selected tasks. Those running are stopped (their processes killed, their
   * work so far lost), so, as for one running task, that asks first.
   */
  private async _cancel(button: HTMLButtonElement): Promise<void> {
    const chosen = this._shown.filter(t => this.ids.has(t.id));
    const running = chosen.filter(t => t.status === 'running');
    const queued = chosen.filter(t => t.status === 'submitted');
    if (running.length + queued.length === 0) {
      this._model.say(
        `None of the ${chosen.length} selected tasks is queued or running: nothing to cancel`
      );
      return;
    }
    if (running.length > 0) {
      const n = running.length;
      const stop = await confirmStop(
        `Cancel ${running.length + queued.length} tasks, ${n} running?`,
        `${n} of the ${chosen.length} selected tasks ${n === 1 ? 'is' : 'are'} running` +
          (queued.length ? ` and ${queued.length} queued` : '') +
          '. Cancelling stops them now: the processes of those running are killed and ' +
          'the work they have done so far is lost.',
        'Cancel tasks'
      );
      if (!stop) {
        return;
      }
    }
    button.disabled = true;
    const ids = [...running, ...queued].map(t => t.id);
    this.ids.clear();
    await this._model.cancelMany(ids);
  }

  /** Every task row shown now (a selected task no longer shown is unselected). */
  private _shown: ITaskRow[] = [];
}
