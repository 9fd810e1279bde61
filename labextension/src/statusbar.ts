import { Widget } from '@lumino/widgets';

import { TaskModel } from './model';

/** The status bar item: running and submitted tasks of the current root. */
export class TaskStatusItem extends Widget {
  constructor(
    readonly model: TaskModel,
    onClick: () => void
  ) {
    super();
    this.addClass('hc-status-item');
    this.node.title = 'hipercow tasks of the current root (click to show the panel)';
    this.node.onclick = onClick;
    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this.model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const counts = this.model.page?.counts;
    if (!counts) {
      this.node.textContent = '';
      this.setHidden(true);
      return;
    }
    this.node.textContent =
      `hipercow: ${counts.running ?? 0} running, ${counts.submitted ?? 0} submitted`;
    this.setHidden(false);
  }
}
