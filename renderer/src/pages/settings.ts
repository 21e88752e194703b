/**
 * Settings: address (port, and who may reach it), launch at login, updates.
 * The server validates (400 with one message per field) and saves atomically;
 * a new address is checked before it is saved (409 at the field, with a free
 * port to offer), a new port moves the running server, and this page follows
 * it there. Unsaved edits are kept in sessionStorage, so a reload (a relaunch
 * of Berth reloads every tab) does not lose them.
 */
import { api, ApiError, problemText, type FieldError, type Settings, type SettingsResponse } from '../api';
import { fill, h, uid } from '../dom';
import { addressFor, isLoopbackName, withArrival } from '../live';
import { berthField } from '../../../app/settings/berth-fields';
import { messageArea, pageSection, type Page, type PageContext } from './page';

type Access = 'local' | 'network' | 'custom';

const LOCAL_HOST = '127.0.0.1';
const NETWORK_HOST = '0.0.0.0';

/** Where unsaved edits wait across a reload of this tab (sessionStorage is per tab and per address). */
const DRAFT_KEY = 'berth.settings-draft';

/** The form as PUT /api/settings takes it; the port as typed. */
interface Draft {
  host: string;
  port: number | string;
  launchAtLogin: boolean;
  update: { channel: string; autoCheck: boolean; allowPrerelease: boolean; url: string | null };
}

function readDraft(): Draft | null {
  try {
    const raw = sessionStorage.getItem(DRAFT_KEY);
    return raw ? (JSON.parse(raw) as Draft) : null;
  } catch {
    return null;
  }
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

    // Labels, hints and choices come from the one list of settings fields (app/settings/berth-fields.ts).
    const portField = berthField('port');
    const port = field(portField.label, h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off', id: 'port', name: 'port', class: 'narrow' }), portField.help);

    // Started with --port/--host or BERTH_PORT/BERTH_HOST (or the file changed since), Berth runs elsewhere than the file says: say so.
    // Always about what is saved: an address typed here and not saved yet is called unsaved (see `unsaved`).
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

    const launchAtLogin = checkbox(berthField('launchAtLogin').label, 'launchAtLogin', berthField('launchAtLogin').help);
    const channelField = berthField('update.channel');
    const channel = field(channelField.label, h('select', { id: 'channel', name: 'channel' }, ...channelField.choices.map((c) => h('option', { value: c.value }, c.label))));
    const autoCheck = checkbox(berthField('update.autoCheck').label, 'autoCheck', berthField('update.autoCheck').help);
    const allowPrerelease = checkbox(berthField('update.allowPrerelease').label, 'allowPrerelease');
    const urlField = berthField('update.url');
    const updateUrl = field(
      urlField.label,
      h('input', { type: 'url', id: 'updateUrl', name: 'updateUrl', autocomplete: 'off', spellcheck: false, placeholder: urlField.placeholder, class: 'wide' }),
      urlField.help,
    );

    // Disabled, with the reason, where this copy of Berth cannot update itself.
    const updatesOff = h('p', { class: 'notice small', id: 'updates-off', hidden: true });
    const updateFields = h('fieldset', { class: 'field-group plain', id: 'update-fields', 'aria-describedby': 'updates-off' }, h('legend', { class: 'visually-hidden' }, 'Update settings'), channel.wrap, autoCheck.wrap, allowPrerelease.wrap, updateUrl.wrap);
    function showUpdatesOff(reason: string | null) {
      updateFields.disabled = reason !== null;
      updatesOff.hidden = reason === null;
      fill(updatesOff, reason ? [h('strong', null, 'This copy of Berth does not update itself, so these settings are switched off. '), reason] : []);
    }

    // Offered when the address is refused: move to a free port instead, or keep the refused one for the next start.
    const usePort = h('button', { type: 'button', class: 'button small', id: 'use-free-port', hidden: true }, 'Use a free port');
    const keepButton = h('button', { type: 'button', class: 'button small', id: 'keep-for-next-start', hidden: true }, 'Keep for next start');
    const addressHelp = h('div', { class: 'address-offers', hidden: true }, usePort, keepButton);

    const saveButton = h('button', { type: 'submit', class: 'button primary' }, 'Save');
    // What differs from the saved settings, said plainly: edits here are not in effect until saved.
    const unsaved = h('p', { class: 'unsaved small', id: 'unsaved', role: 'status', hidden: true });
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
    const resetButton = h(
      'button',
      {
        type: 'button',
        class: 'button',
        onclick: () => {
          if (!loaded) return;
          forgetDraft();
          show(loaded.settings);
          message.clear();
        },
      },
      'Revert',
    );

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
      h('article', { class: 'card' }, h('h2', null, 'Address'), runningNote, port.wrap, accessGroup, addressHelp),
      h('article', { class: 'card' }, h('h2', null, 'Startup'), launchAtLogin.wrap),
      h('article', { class: 'card' }, h('h2', null, 'Updates'), updatesOff, updateFields),
      h('div', { class: 'form-actions' }, message.el, unsaved, restartNow, resetButton, saveButton),
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
      lanWarning.hidden = a === 'local' || (a === 'custom' && isLoopbackName(customHost.value.trim() || LOCAL_HOST));
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
      if (loaded) showRunning(loaded.settings);
      showUnsaved();
    }

    /** "Unsaved changes: port 9001, update channel." beside Save, while the form differs from what is saved. */
    function showUnsaved() {
      if (!loaded) return;
      const saved = patchFromSettings(loaded.settings);
      const now = patchFromForm();
      const changed: string[] = [];
      if (String(now.port) !== String(saved.port)) changed.push(`port ${now.port || '(empty)'}`);
      if (now.host !== saved.host) changed.push(`address ${now.host || '(empty)'}`);
      if (now.launchAtLogin !== saved.launchAtLogin) changed.push('start at login');
      if (now.update.channel !== saved.update.channel) changed.push('update channel');
      if (now.update.autoCheck !== saved.update.autoCheck) changed.push('automatic checks');
      if (now.update.allowPrerelease !== saved.update.allowPrerelease) changed.push('pre-releases');
      if (now.update.url !== saved.update.url) changed.push('update server');
      unsaved.hidden = changed.length === 0;
      unsaved.textContent = changed.length ? `Unsaved changes: ${changed.join(', ')}.` : '';
    }

    function clearErrors() {
      addressHelp.hidden = true;
      for (const t of Object.values(errorTargets)) {
        t.error.hidden = true;
        t.error.textContent = '';
        t.control.removeAttribute('aria-invalid');
      }
    }

    function showErrors(errors: FieldError[], summary?: string) {
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
      message.show('error', summary ?? `Not saved: ${count === 1 ? 'one setting needs' : `${count} settings need`} attention.${general.length ? ' ' + general.join(' ') : ''}`);
      first?.focus();
    }

    /** The address was refused: say why at its field, and offer a free port or keeping it for the next start. */
    function showRefused(err: ApiError, patch: Draft) {
      showErrors(err.body.errors ?? [], err.message);
      const free = typeof err.body.freePort === 'number' ? err.body.freePort : null;
      usePort.hidden = free === null;
      usePort.textContent = free === null ? '' : `Use port ${free}`;
      usePort.onclick = () => {
        if (free === null) return;
        port.control.value = String(free);
        rememberDraft();
        form.requestSubmit();
      };
      keepButton.onclick = async () => {
        // Kept for the next start, a network address still opens Berth to others then: the same question first.
        if (opens(patch) && !(await confirmExposure(patch))) return;
        await submit({ ...patch, keepForNextStart: true });
      };
      keepButton.hidden = false;
      // The offers sit under the field that was refused.
      if (err.body.errors?.[0]?.field === 'port') port.wrap.after(addressHelp);
      else accessGroup.after(addressHelp);
      addressHelp.hidden = false;
    }

    function rememberDraft() {
      if (!loaded) return;
      const draft = patchFromForm();
      if (JSON.stringify(draft) === JSON.stringify(patchFromSettings(loaded.settings))) forgetDraft();
      else sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
    }

    function forgetDraft() {
      sessionStorage.removeItem(DRAFT_KEY);
    }

    function patchFromSettings(s: Settings): Draft {
      return { host: s.host, port: s.port, launchAtLogin: s.launchAtLogin, update: { channel: s.update.channel, autoCheck: s.update.autoCheck, allowPrerelease: s.update.allowPrerelease, url: s.update.url ?? null } };
    }

    /** What the form says, in the shape PUT /api/settings takes. The port goes as typed, so the server words any problem. */
    function patchFromForm(): Draft {
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
      if (opens(patch)) {
        // Check first, ask after: the question is only for an address Berth can really take.
        clearErrors();
        restartNow.hidden = true;
        message.show('info', 'Checking the address…');
        saveButton.disabled = true;
        try {
          await api.saveSettings({ ...patch, checkOnly: true });
        } catch (err) {
          showProblem(err, patch);
          return;
        } finally {
          saveButton.disabled = false;
        }
        message.clear();
        if (!(await confirmExposure(patch))) return;
      }
      await submit(patch);
    }

    /** The address would let other devices reach Berth where today only this computer can. */
    function opens(patch: Draft): boolean {
      return !!loaded && !isLoopbackName(patch.host) && isLoopbackName(loaded.settings.host);
    }

    function confirmExposure(patch: Draft): Promise<boolean> {
      return ctx.confirm({
        title: 'Let other devices reach Berth?',
        message: `Berth will listen on ${patch.host === NETWORK_HOST ? 'every network address of this computer' : patch.host}. Anyone on your network can then reach its page (changes still need the sign-in token). Only do this on a network you trust.`,
        confirm: 'Allow network access',
        danger: true,
      });
    }

    async function submit(patch: Draft & { keepForNextStart?: boolean; checkOnly?: boolean }) {
      if (!loaded) return;
      clearErrors();
      restartNow.hidden = true;
      message.show('info', patch.keepForNextStart ? 'Saving for the next start…' : 'Checking and saving…');
      saveButton.disabled = true;
      try {
        const saved = await api.saveSettings(patch);
        loaded = { ...loaded, settings: saved.settings, warnings: [] };
        warnings.hidden = true;
        forgetDraft();
        if (saved.moved) {
          // The browser sends the cookie to every port of the host, so this tab stays signed in at the new address.
          const target = addressFor(location, saved.settings.host, saved.settings.port) + location.pathname + location.hash;
          message.show('info', `Saved. Berth moved to port ${saved.settings.port}; taking you there…`);
          ctx.live.leave();
          location.assign(withArrival(target, location.port));
          return;
        }
        show(saved.settings);
        message.show(saved.kept ? 'info' : 'ok', saved.kept ? (saved.message ?? 'Saved for the next start.') : 'Saved.');
      } catch (err) {
        showProblem(err, patch);
      } finally {
        saveButton.disabled = false;
      }
    }

    /** What the server said instead of saving (or instead of "this address is fine"), at its field. */
    function showProblem(err: unknown, patch: Draft) {
      if (err instanceof ApiError && err.status === 400 && err.body.errors) showErrors(err.body.errors);
      else if (err instanceof ApiError && err.status === 409 && err.body.error === 'address-unavailable') showRefused(err, patch);
      else if (err instanceof ApiError && err.status === 409 && err.body.error === 'restart-required' && loaded) {
        forgetDraft();
        loaded = { ...loaded, settings: err.body.settings as Settings, warnings: [] };
        show(loaded.settings);
        message.show('info', err.message);
        restartNow.hidden = false;
      } else message.show('error', err instanceof ApiError ? err.message : 'Berth is not answering, so nothing was saved. Your changes are still here; save again once it is back.');
    }

    form.addEventListener('submit', (ev) => void save(ev));
    for (const r of [local.input, network.input, custom.input]) r.addEventListener('change', syncAccess);
    custom.input.addEventListener('change', () => customHost.focus());
    customHost.addEventListener('input', syncAccess);
    form.addEventListener('input', rememberDraft);
    form.addEventListener('change', rememberDraft);
    form.addEventListener('input', showUnsaved);
    form.addEventListener('change', showUnsaved);
    // An error is about the value that was refused: once the person edits that field, it no longer applies.
    // The access choice is the address too: choosing another leaves the typed host's error behind.
    const access: EventTarget[] = [local.input, network.input, custom.input];
    form.addEventListener('input', (ev) => {
      for (const t of Object.values(errorTargets)) {
        const edited = t.control === ev.target || (t.control === customHost && access.includes(ev.target!));
        if (!edited || t.error.hidden) continue;
        t.error.hidden = true;
        t.error.textContent = '';
        t.control.removeAttribute('aria-invalid');
      }
    });

    const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
    const root = pageSection('settings', 'Settings', 'How Berth is reached, how it starts, and how it updates.', warnings, body, fileNote);

    let loadFailed = false;
    function load() {
      api.settings().then(
        (res) => {
          loadFailed = false;
          loaded = res;
          show(res.settings);
          fill(body, form);
          fill(fileNote, 'Saved in ', h('code', { class: 'path' }, res.file));
          if (res.warnings.length) {
            fill(warnings, h('strong', null, 'About your settings file: '), res.warnings.join(' '));
            warnings.hidden = false;
          }
          // Arrived from the Update page's "Change": to the channel, where it can be changed.
          if (/^#\/settings\/channel$/.test(location.hash) && !channel.control.disabled) channel.control.focus();
          // Edits not saved before this tab reloaded (a relaunch reloads every tab): put them back, and say so.
          const draft = readDraft();
          if (draft && JSON.stringify(draft) !== JSON.stringify(patchFromSettings(res.settings))) {
            show({ ...res.settings, ...draft, port: draft.port as number, update: { ...res.settings.update, ...draft.update } } as Settings);
            message.show('info', 'Your unsaved changes were kept while the page reloaded. Save them, or Revert.');
          }
        },
        (err: unknown) => {
          loadFailed = true;
          fill(body, h('p', { class: 'message error', role: 'alert' }, problemText(err, 'Your settings')));
        },
      );
    }
    load();
    // A page that could not load loads once Berth answers again.
    const offLink = ctx.live.on('link', (state) => {
      if (state === 'live' && loadFailed) load();
    });
    // Where this copy cannot update itself, the update settings are switched off with the reason.
    const showUpdateState = (s: { state: string; reason?: string } | null) => showUpdatesOff(s?.state === 'disabled' ? (s.reason ?? 'updates are off.') : null);
    showUpdateState(ctx.live.update);
    api.update().then(showUpdateState, (err: unknown) => {
      if (err instanceof ApiError && err.status === 404) showUpdatesOff('this build has no updater.');
    });
    const offUpdate = ctx.live.on('update', showUpdateState);
    // The running address may arrive after the settings (first status event): compare again then.
    const off = ctx.live.on('status', () => loaded && showRunning(loaded.settings));
    return {
      root,
      dispose() {
        off();
        offLink();
        offUpdate();
      },
    };
  },
};
