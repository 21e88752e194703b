/**
 * What a tab that is not signed in sees: how to open Berth properly, instead
 * of an error. Berth signs in only tabs it opens itself (the token travels
 * once in the address and becomes an HttpOnly cookie).
 */
import { api } from './api';
import { h } from './dom';

export function signedOutView(): HTMLElement {
  const again = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const check = h(
    'button',
    {
      type: 'button',
      class: 'button',
      onclick: async () => {
        again.textContent = 'Checking…';
        try {
          if ((await api.session()).authenticated) return location.reload();
          again.textContent = 'This tab is still not signed in. Use one of the two ways above.';
        } catch {
          again.textContent = 'Berth did not answer. Is it running?';
        }
      },
    },
    'Check again',
  );
  return h(
    'section',
    { class: 'page signed-out', 'aria-labelledby': 'signed-out-title' },
    h(
      'article',
      { class: 'card hero' },
      h('h1', { id: 'signed-out-title', tabindex: -1 }, 'Open Berth from the app'),
      h('p', { class: 'lead' }, 'This tab is not signed in, so Berth keeps its console private here. Berth signs a tab in when it opens the tab for you:'),
      h(
        'ol',
        { class: 'steps' },
        h('li', null, h('strong', null, 'From the tray: '), 'click the Berth icon (in the menu bar on macOS) and choose ', h('strong', null, 'Open in browser'), '.'),
        h('li', null, h('strong', null, 'From a terminal: '), 'run ', h('code', null, 'berth open'), '.'),
      ),
      h(
        'p',
        { class: 'muted small' },
        'Why: this page can restart, stop and reconfigure Berth, so only tabs Berth opened itself may use it. A signed-in tab stays signed in until the browser is closed.',
      ),
      h('div', { class: 'actions' }, check),
      again,
    ),
  );
}
