import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { element } from './rows';

/**
 * Ask before stopping running tasks (their processes are killed, their work so far lost):
 * whether the user chose `stop`. Enter keeps them running: stopping takes a deliberate click.
 */
export async function confirmStop(title: string, text: string, stop: string): Promise<boolean> {
  const answer = await showDialog({
    title,
    body: new Widget({ node: element('div', 'hc-cancel-body', text) }),
    buttons: [Dialog.cancelButton({ label: 'Keep running' }), Dialog.warnButton({ label: stop })],
    defaultButton: 0
  });
  return answer.button.accept;
}
