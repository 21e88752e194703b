/**
 * What a tab that is not signed in sees: how to open Berth properly, instead
 * of an error. Berth signs in a tab it opens itself (a one-time ticket
 * travels in the address and becomes an HttpOnly cookie), or one whose person types
 * the token in, as Jupyter's sign-in page does (POST /api/session sets the
 * same cookie).
 */
import { api, ApiError } from './api';
import { h } from './dom';

/** Until Berth says how it runs here (GET /api/open-command): the port `berth open` needs to be told about, when this page is not on the default one. */
function openCommand(): string {
  const port = location.port || (location.protocol === 'https:' ? '443' : '80');
  return port === '8787' ? 'berth open' : `berth open --port ${port}`;
}

/** Where the data folder is by default on this person's system (app/paths.ts decides the same way). */
function dataFolderHint(): string {
  const ua = navigator.userAgent;
  if (/Windows/.test(ua)) return '%APPDATA%\\Berth';
  if (/Macintosh|Mac OS X/.test(ua)) return '~/Library/Application Support/Berth';
  return '~/.config/Berth';
}

export function signedOutView(opts: { tokenRejected?: boolean; linkExpired?: boolean } = {}): HTMLElement {
  // The exact command, with the folder and the way Berth runs on this computer (a source checkout runs `node .../bin/berth.js`).
  const command = h('code', { class: 'command', id: 'open-command' }, openCommand());
  const sameFlags = h('span', null, ' If you started Berth with ', h('code', null, '--port'), ' or ', h('code', null, '--data-dir'), ', give it the same ones.');
  api.openCommand().then(
    (res) => {
      if (!res.command) return;
      command.textContent = res.command;
      sameFlags.remove();
    },
    () => undefined,
  );
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
          again.textContent = 'This tab is still not signed in. Use one of the ways above.';
        } catch {
          again.textContent = 'Berth is not answering. Is it running?';
        }
      },
    },
    'Check again',
  );

  const tokenInput = h('input', {
    type: 'password',
    id: 'token',
    name: 'token',
    autocomplete: 'off',
    spellcheck: false,
    class: 'medium',
    'aria-describedby': 'token-hint token-error',
  });
  const tokenError = h('p', { class: 'field-error', id: 'token-error', role: 'alert', hidden: true });
  const signIn = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'token-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'Token'), h('div', { class: 'token-row' }, tokenInput, signIn), h(
      'p',
      { class: 'hint', id: 'token-hint' },
      'The text of the file ',
      h('code', null, 'auth-token'),
      ' in Berth’s data folder: the one given with ',
      h('code', null, '--data-dir'),
      ', or by default ',
      h('code', null, dataFolderHint()),
      '.',
    ), tokenError),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    tokenError.hidden = true;
    tokenInput.removeAttribute('aria-invalid');
    const token = tokenInput.value.trim();
    if (!token) {
      tokenError.textContent = 'Enter the token first.';
      tokenError.hidden = false;
      tokenInput.setAttribute('aria-invalid', 'true');
      tokenInput.focus();
      return;
    }
    signIn.disabled = true;
    try {
      await api.signIn(token);
      location.reload();
    } catch (err) {
      tokenError.textContent =
        err instanceof ApiError && err.status === 403
          ? 'That token was not accepted. Check that it comes from this Berth’s data folder.'
          : 'Berth is not answering. Is it running?';
      tokenError.hidden = false;
      tokenInput.setAttribute('aria-invalid', 'true');
      tokenInput.focus();
    } finally {
      signIn.disabled = false;
    }
  });

  return h(
    'section',
    { class: 'page signed-out', 'aria-labelledby': 'signed-out-title' },
    h(
      'article',
      { class: 'card hero' },
      h('h1', { id: 'signed-out-title', tabindex: -1 }, 'Open Berth from the app'),
      opts.tokenRejected
        ? h(
            'p',
            { class: 'message error', id: 'token-rejected', role: 'alert' },
            'The token in the address was not accepted, so this tab is not signed in. It may belong to another Berth or an older data folder.',
          )
        : null,
      opts.linkExpired
        ? h('p', { class: 'message error', id: 'link-expired', role: 'alert' }, 'This sign-in link was used already or is more than two minutes old, so this tab is not signed in. Open Berth again to get a new one.')
        : null,
      h('p', { class: 'lead' }, 'This tab is not signed in, so Berth keeps its console private here. Berth signs a tab in when it opens the tab for you:'),
      h(
        'ol',
        { class: 'steps' },
        h('li', null, h('strong', null, 'From the tray: '), 'click the Berth icon (in the menu bar on macOS) and choose ', h('strong', null, 'Open in browser'), '.'),
        h(
          'li',
          null,
          h('strong', null, 'From a terminal: '),
          'run ',
          command,
          '.',
          sameFlags,
        ),
        h('li', null, h('strong', null, 'With the token: '), 'paste it below.'),
      ),
      form,
      h(
        'p',
        { class: 'muted small' },
        'Why: this page can restart, stop and reconfigure Berth, so only tabs Berth opened itself, or whose person knows the token, may use it. A signed-in tab stays signed in until the browser is closed.',
      ),
      h('div', { class: 'actions' }, check),
      again,
    ),
  );
}
