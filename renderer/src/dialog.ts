/**
 * The confirmation asked before anything that interrupts Berth. A native
 * <dialog> opened with showModal(): focus stays inside, Escape cancels, and
 * the safe choice (Cancel) has the focus when it opens.
 */
import { h, type Child } from './dom';

export interface ConfirmOptions {
  title: string;
  message: Child;
  /** The label of the button that goes ahead, e.g. "Restart server". */
  confirm: string;
  /** Red confirm button for things that are hard to undo (Stop). */
  danger?: boolean;
}

export function confirmAction(opts: ConfirmOptions): Promise<boolean> {
  const titleId = 'confirm-title';
  const messageId = 'confirm-message';
  const cancel = h('button', { type: 'submit', value: 'cancel', class: 'button', autofocus: true }, 'Cancel');
  const ok = h('button', { type: 'submit', value: 'confirm', class: opts.danger ? 'button danger' : 'button primary' }, opts.confirm);
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': titleId, 'aria-describedby': messageId },
    h(
      'form',
      { method: 'dialog' },
      h('h2', { id: titleId }, opts.title),
      h('p', { id: messageId }, opts.message),
      h('div', { class: 'dialog-actions' }, cancel, ok),
    ),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    dialog.showModal();
    cancel.focus();
  });
}
