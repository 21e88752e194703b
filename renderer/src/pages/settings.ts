/**
 * Settings: address (port, and who may reach it), launch at login, updates.
 * The server validates (400 with one message per field) and saves atomically;
 * a new port moves the running server, and this page follows it there.
 */
import { api, ApiError, type FieldError, type Settings, type SettingsResponse } from '../api';
import { fill, h, uid } from '../dom';
import { addressFor } from '../live';
import { messageArea, pageSection, type Page, type PageContext } from './page';

type Access = 'local' | 'network' | 'custom';

const LOCAL_HOST = '127.0.0.1';
const NETWORK_HOST = '0.0.0.0';

function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function accessOf(host: string): Access {
  if (host === LOCAL_HOST) return 'local';
  if (host === NETWORK_HOST || host === '::') return 'network';
  return 'custom';
}

/** A labelled control with its hint and its error line, wired with aria-describedby. */
function field(label: string, control: HTMLInputElement | HTMLSelectElement, hint?: string) {
  const id = control.id || uid('field');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl ? hintEl.id : '', error.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl, error);
  return { wrap, control, error };
}

function checkbox(label: string, id: string, hint?: string) {
  const control = h('input', { type: 'checkbox', id, name: id });
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl ? hintEl.id : '', error.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field check' }, control, h('label', { for: id }, label), hintEl, error);
  return { wrap, control, error };
}

export const settingsPage: Page = {
  id: 'settings',
  title: 'Settings',
  render(ctx: PageContext) {
    const message = messageArea();
    const warnings = h('div', { class: 'notice warn', role: 'note', hidden: true });
    const fileNote = h('p', { class: 'muted small' });

    const port = field('Port', h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off', id: 'port', name: 'port', class: 'narrow' }), 'Between 1 and 65535. Berth moves to the new port at once.');

    // Started with --port/--host or BERTH_PORT/BERTH_HOST (or the file changed since), Berth runs elsewhere than the file says: say so.
    const runningNote = h('p', { class: 'notice', id: 'running-address', hidden: true });
    function showRunning(saved: Settings) {
      const st = ctx.live.status;
      const differs = !!st && (st.port !== saved.port || st.host !== saved.host);
      runningNote.hidden = !differs;
      if (st && differs) {
        runningNote.textContent = `Berth is serving on ${st.host}:${st.port} right now. The address saved here (${saved.host}:${saved.port}) is used the next time it starts, unless --host/--port or BERTH_HOST/BERTH_PORT say otherwise. Saving other settings does not move it.`;
      }
    }

    const accessName = 'access';
    const radio = (value: Access, label: string, hint: string) => {
      const id = `access-${value}`;
      return {
        input: h('input', { type: 'radio', name: accessName, id, value, 'aria-describedby': `${id}-hint` }),
        wrap: (input: HTMLInputElement, extra?: HTMLElement) =>
          h('div', { class: 'radio' }, input, h('div', null, h('label', { for: id }, label), h('p', { class: 'hint', id: `${id}-hint` }, hint), extra)),
      };
    };
    const local = radio('local', 'This computer only', 'Recommended. Only programs on this computer can open Berth (127.0.0.1).');
    const network = radio('network', 'Other devices on your network', 'Berth listens on every network address of this computer (0.0.0.0).');
    const custom = radio('custom', 'A specific address', 'Listen on one address of this computer, for example its LAN address.');
    const customHost = h('input', { type: 'text', id: 'host', name: 'host', autocomplete: 'off', spellcheck: false, class: 'medium', 'aria-label': 'Specific address' });
    const hostError = h('p', { class: 'field-error', id: 'host-error', hidden: true });
    customHost.setAttribute('aria-describedby', 'host-error');
    const lanWarning = h(
      'div',
      { class: 'notice warn', id: 'lan-warning', role: 'note', hidden: true },
      h('strong', null, 'Other devices will be able to reach Berth. '),
      'Anyone on your network can then see that Berth is running and which version it is. Changing or restarting it still needs the sign-in token, but choose this only on a network you trust, and note that traffic is not encrypted (plain http).',
    );
    const accessGroup = h(
      'fieldset',
      { class: 'field-group', 'aria-describedby': 'lan-warning' },
      h('legend', null, 'Who can open Berth'),
      local.wrap(local.input),
      network.wrap(network.input),
      custom.wrap(custom.input, customHost),
      hostError,
      lanWarning,
    );

    const launchAtLogin = checkbox('Start Berth when I log in', 'launchAtLogin', 'Applies to the desktop app.');
    const channel = field(
      'Update channel',
      h('select', { id: 'channel', name: 'channel' }, h('option', { value: 'latest' }, 'Stable'), h('option', { value: 'beta' }, 'Beta (early versions, may be rough)')),
    );
    const autoCheck = checkbox('Check for updates automatically', 'autoCheck', 'Berth looks for new versions in the background and tells you when one is ready.');
    const allowPrerelease = checkbox('Offer pre-release versions', 'allowPrerelease');
    const updateUrl = field(
      'Update server',
      h('input', { type: 'url', id: 'updateUrl', name: 'updateUrl', autocomplete: 'off', spellcheck: false, placeholder: 'Built into this version', class: 'wide' }),
      'Leave empty to use the server built into this version of Berth.',
    );

    const saveButton = h('button', { type: 'submit', class: 'button primary' }, 'Save');
    // Offered when a saved address can only take effect in a fresh process.
    const restartNow = h(
      'button',
      {
        type: 'button',
        class: 'button',
        hidden: true,
        onclick: () => {
          restartNow.disabled = true;
          api.relaunch().then(
            () => message.show('info', 'Restarting Berth…'),
            (err: unknown) => message.show('error', err instanceof ApiError ? err.message : `Could not reach Berth: ${String(err)}`),
          );
        },
      },
      'Restart app now',
    );
    const resetButton = h('button', { type: 'button', class: 'button', onclick: () => loaded && show(loaded.settings) }, 'Revert');

    const errorTargets: Record<string, { control: HTMLElement; error: HTMLElement }> = {
      port,
      host: { control: customHost, error: hostError },
      launchAtLogin,
      'update.channel': channel,
      'update.autoCheck': autoCheck,
      'update.allowPrerelease': allowPrerelease,
      'update.url': updateUrl,
    };

    const form = h(
      'form',
      { class: 'settings-form', novalidate: true, 'aria-labelledby': 'settings-title' },
      h('article', { class: 'card' }, h('h2', null, 'Address'), runningNote, port.wrap, accessGroup),
      h('article', { class: 'card' }, h('h2', null, 'Startup'), launchAtLogin.wrap),
      h('article', { class: 'card' }, h('h2', null, 'Updates'), channel.wrap, autoCheck.wrap, allowPrerelease.wrap, updateUrl.wrap),
      h('div', { class: 'form-actions' }, message.el, restartNow, resetButton, saveButton),
    );

    let loaded: SettingsResponse | null = null;

    function selectedAccess(): Access {
      return ([local.input, network.input, custom.input].find((r) => r.checked)?.value as Access) ?? 'local';
    }

    function hostFromForm(): string {
      const a = selectedAccess();
      return a === 'local' ? LOCAL_HOST : a === 'network' ? NETWORK_HOST : customHost.value.trim();
    }

    function syncAccess() {
      const a = selectedAccess();
      customHost.disabled = a !== 'custom';
      customHost.hidden = a !== 'custom';
      lanWarning.hidden = a === 'local' || (a === 'custom' && isLoopback(customHost.value.trim() || LOCAL_HOST));
    }

    function show(s: Settings) {
      clearErrors();
      port.control.value = String(s.port);
      const a = accessOf(s.host);
      local.input.checked = a === 'local';
      network.input.checked = a === 'network';
      custom.input.checked = a === 'custom';
      customHost.value = a === 'custom' ? s.host : '';
      launchAtLogin.control.checked = s.launchAtLogin;
      channel.control.value = s.update.channel;
      autoCheck.control.checked = s.update.autoCheck;
      allowPrerelease.control.checked = s.update.allowPrerelease;
      updateUrl.control.value = s.update.url ?? '';
      syncAccess();
      showRunning(s);
    }

    function clearErrors() {
      for (const t of Object.values(errorTargets)) {
        t.error.hidden = true;
        t.error.textContent = '';
        t.control.removeAttribute('aria-invalid');
      }
    }

    function showErrors(errors: FieldError[]) {
      clearErrors();
      let first: HTMLElement | null = null;
      const general: string[] = [];
      for (const e of errors) {
        const t = errorTargets[e.field];
        if (!t) {
          general.push(e.message);
          continue;
        }
        t.error.textContent = t.error.textContent ? `${t.error.textContent} ${e.message}` : e.message;
        t.error.hidden = false;
        t.control.setAttribute('aria-invalid', 'true');
        first ??= t.control;
      }
      const count = errors.length;
      message.show('error', `Not saved: ${count === 1 ? 'one setting needs' : `${count} settings need`} attention.${general.length ? ' ' + general.join(' ') : ''}`);
      first?.focus();
    }

    /** What the form says, in the shape PUT /api/settings takes. The port goes as typed, so the server words any problem. */
    function patchFromForm() {
      const p = port.control.value.trim();
      return {
        host: hostFromForm(),
        port: /^\d+$/.test(p) ? Number(p) : p,
        launchAtLogin: launchAtLogin.control.checked,
        update: {
          channel: channel.control.value,
          autoCheck: autoCheck.control.checked,
          allowPrerelease: allowPrerelease.control.checked,
          url: updateUrl.control.value.trim() || null,
        },
      };
    }

    async function save(ev: Event) {
      ev.preventDefault();
      if (!loaded) return;
      const patch = patchFromForm();
      const opening = !isLoopback(patch.host) && isLoopback(loaded.settings.host);
      if (opening) {
        const ok = await ctx.confirm({
          title: 'Let other devices reach Berth?',
          message: `Berth will listen on ${patch.host === NETWORK_HOST ? 'every network address of this computer' : patch.host}. Anyone on your network can then reach its page (changes still need the sign-in token). Only do this on a network you trust.`,
          confirm: 'Allow network access',
          danger: true,
        });
        if (!ok) return;
      }
      clearErrors();
      restartNow.hidden = true;
      message.show('info', 'Saving…');
      saveButton.disabled = true;
      try {
        const saved = await api.saveSettings(patch);
        loaded = { ...loaded, settings: saved.settings, warnings: [] };
        warnings.hidden = true;
        if (saved.moved) {
          // The cookie belongs to the host name, not the port, so this tab stays signed in at the new address.
          const target = addressFor(location, saved.settings.host, saved.settings.port) + location.pathname + location.hash;
          message.show('info', `Saved. Berth moved to port ${saved.settings.port}; taking you there…`);
          ctx.live.leave();
          location.assign(target);
          return;
        }
        show(saved.settings);
        message.show('ok', 'Saved.');
      } catch (err) {
        if (err instanceof ApiError && err.status === 400 && err.body.errors) showErrors(err.body.errors);
        else if (err instanceof ApiError && err.status === 409 && err.body.error === 'restart-required') {
          loaded = { ...loaded, settings: err.body.settings as Settings, warnings: [] };
          show(loaded.settings);
          message.show('info', err.message);
          restartNow.hidden = false;
        } else if (err instanceof ApiError && err.status === 409) {
          // Saved, but the running server could not move: say so, and that a restart applies it.
          message.show('error', `Saved, but Berth could not move there now: ${err.message} The new address is used the next time Berth starts.`);
        } else message.show('error', err instanceof ApiError ? err.message : `Could not reach Berth: ${String(err)}`);
      } finally {
        saveButton.disabled = false;
      }
    }

    form.addEventListener('submit', (ev) => void save(ev));
    for (const r of [local.input, network.input, custom.input]) r.addEventListener('change', syncAccess);
    custom.input.addEventListener('change', () => customHost.focus());
    customHost.addEventListener('input', syncAccess);

    const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
    const root = pageSection('settings', 'Settings', 'How Berth is reached, how it starts, and how it updates.', warnings, body, fileNote);

    api.settings().then(
      (res) => {
        loaded = res;
        show(res.settings);
        fill(body, form);
        fill(fileNote, 'Saved in ', h('code', null, res.file));
        if (res.warnings.length) {
          fill(warnings, h('strong', null, 'About your settings file: '), res.warnings.join(' '));
          warnings.hidden = false;
        }
      },
      (err: unknown) => fill(body, h('p', { class: 'message error', role: 'alert' }, err instanceof ApiError ? err.message : `Could not load settings: ${String(err)}`)),
    );
    // The running address may arrive after the settings (first status event): compare again then.
    const off = ctx.live.on('status', () => loaded && showRunning(loaded.settings));
    return { root, dispose: off };
  },
};
