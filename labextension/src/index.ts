import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISessionContext, MainAreaWidget } from '@jupyterlab/apputils';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { KernelMessage } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import cowSvg from '../style/cow.svg';
import { TaskModel } from './model';
import { DEFAULT_SETTINGS, EndNotifier, INotifySettings } from './notifications';
import { TaskPanel } from './panel';
import { TaskStatusItem } from './statusbar';
import { InfoView, LogView } from './views';

const cowIcon = new LabIcon({ name: 'hipercow-magic:cow', svgstr: cowSvg });

/**
 * The hipercow side panel, its status bar item, the log and info views, and notifications
 * when tasks end (its settings: `schema/panel.json`).
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'hipercow-magic:panel',
  description: 'A side panel listing the tasks of the current hipercow root.',
  autoStart: true,
  requires: [ILabShell],
  optional: [IDefaultFileBrowser, IStatusBar, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    fileBrowser: IDefaultFileBrowser | null,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const model = new TaskModel();
    const open = (widget: Widget) => {
      const existing = Array.from(shell.widgets('main')).find(
        w => w.id === `${widget.id}-area`
      );
      if (existing) {
        widget.dispose();
        shell.activateById(existing.id);
        return;
      }
      const area = new MainAreaWidget({ content: widget });
      area.id = `${widget.id}-area`;
      area.title.label = widget.title.label;
      area.title.icon = cowIcon;
      area.addClass('hc-view');
      // The first view opens beside the notebook; later ones as tabs next to it.
      const sibling = Array.from(shell.widgets('main')).find(w =>
        w.hasClass('hc-view')
      );
      shell.add(
        area,
        'main',
        sibling ? { ref: sibling.id, mode: 'tab-after' } : { mode: 'split-right' }
      );
      shell.activateById(area.id);
    };
    const views = {
      openLog: (root: string, id: string) => open(new LogView(root, id)),
      openInfo: (root: string, id: string) => open(new InfoView(root, id))
    };
    const panel = new TaskPanel(model, views);
    const notifier = new EndNotifier(model, views);
    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings) => {
        notifier.settings = {
          ...DEFAULT_SETTINGS,
          ...(settings.composite as Partial<INotifySettings>)
        };
      };
      void settingRegistry
        .load(plugin.id)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason =>
          console.warn('hipercow: the settings could not be loaded:', reason)
        );
    }
    panel.title.icon = cowIcon;
    shell.add(panel, 'left', { rank: 600 });

    // The current root is the one holding the file browser's folder, or the active document.
    if (fileBrowser) {
      const followBrowser = () => void model.follow(fileBrowser.model.path);
      fileBrowser.model.pathChanged.connect(followBrowser);
      void fileBrowser.model.restored.then(followBrowser);
    } else {
      void model.follow('');
    }
    // Code a kernel has just run may have made a root or submitted tasks: look again as
    // soon as it finishes, in every notebook (or other document with a kernel) shown here.
    const onIOPub = (_: ISessionContext, msg: KernelMessage.IMessage) => {
      if (
        KernelMessage.isStatusMsg(msg) &&
        msg.content.execution_state === 'idle' &&
        (msg.parent_header as Partial<KernelMessage.IHeader>).msg_type === 'execute_request'
      ) {
        model.kernelIdle();
      }
    };
    const watched = new WeakSet<ISessionContext>();
    shell.currentChanged.connect((_, change) => {
      const widget = change.newValue;
      if (widget instanceof DocumentWidget) {
        void model.follow(widget.context.path);
        const session = widget.context.sessionContext;
        if (!watched.has(session)) {
          watched.add(session);
          session.iopubMessage.connect(onIOPub);
          widget.disposed.connect(() => session.iopubMessage.disconnect(onIOPub));
        }
      }
    });

    if (statusBar) {
      const item = new TaskStatusItem(model, () => shell.activateById(panel.id));
      statusBar.registerStatusItem('hipercow-magic:status', {
        item,
        align: 'left',
        rank: 10,
        isActive: () => true
      });
    }
  }
};

export default plugin;
