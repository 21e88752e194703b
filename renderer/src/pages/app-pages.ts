/**
 * The pages a hosted app adds to the console (app/hosting: AppDefinition's
 * consolePages and settings), read from GET /api/app: each console page is an
 * ES module of the app's UI, loaded when first shown, whose render(ctx)
 * returns its element; the app's settings get a form made from its fields.
 */
import { call, problemText } from '../api';
import { h, uid } from '../dom';
import type { SettingsField } from '../../../app/settings/fields';
import { messageArea, pageSection, type Page } from './page';

interface AppInfo {
  hosted: boolean;
  name: string;
  kind: 'in-process' | 'child';
  state: string;
  generation: number;
  child: { pid: number | null; restarts: number; crashes: number; problem: string | null; startMs: number | null } | null;
  pages: { id: string; title: string; module: string }[];
  fields: SettingsField[];
  settings: Record<string, unknown>;
}

/** What a console page module gets: the DOM builder and the signed-in API caller of the console itself. */
export interface ConsolePageContext {
  h: typeof h;
  api: (method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => Promise<unknown>;
}

/** The hosted app's pages, or none (Berth's console alone). */
export async function appPages(): Promise<Page[]> {
  const info = await call<AppInfo>('GET', '/api/app');
  if (!info.hosted) return [];
  const pages: Page[] = info.pages.map((p) => ({
    id: p.id,
    title: p.title,
    render() {
      const root = pageSection(p.id, p.title, `A page of ${info.name}.`);
      const ctx: ConsolePageContext = { h, api: (method, path, body) => call(method, path, body) };
      import(/* @vite-ignore */ p.module)
        .then((m: { render: (c: ConsolePageContext) => { root: HTMLElement } }) => root.append(m.render(ctx).root))
        .catch((err: Error) => root.append(h('p', { class: 'message error', role: 'alert' }, `This page could not be loaded: ${err.message}`)));
      return { root };
    },
  }));
  pages.push(appPage(info));
  return pages;
}

/** How the hosted app is (its child server's state, with a Restart button), and its settings as a form made from its fields. */
function appPage(info: AppInfo): Page {
  return {
    id: 'app',
    title: info.name,
    render() {
      const state = h('p', { class: 'lead' });
      const showState = (a: AppInfo) => {
        const c = a.child;
        state.textContent = c
          ? `${a.name} is ${a.state}${c.pid ? ` (pid ${c.pid}` + (c.startMs !== null ? `, answered ${c.startMs} ms after it started)` : ')') : ''}. Restarts: ${c.restarts}, crashes: ${c.crashes}.${c.problem ? ` ${c.problem}.` : ''}`
          : `${a.name} runs inside Berth (generation ${a.generation}).`;
      };
      showState(info);
      const restartMessage = messageArea();
      const restart = info.kind === 'child'
        ? h('button', {
            type: 'button',
            class: 'button',
            onclick: async () => {
              try {
                await call('POST', '/api/app/restart');
                restartMessage.show('info', `Restarting ${info.name}: requests wait for it meanwhile.`);
                window.setTimeout(() => void call<AppInfo>('GET', '/api/app').then(showState).catch(() => undefined), 1500);
              } catch (err) {
                restartMessage.show('error', problemText(err, 'Restarting'));
              }
            },
          }, `Restart ${info.name}`)
        : null;
      const overview = h('div', { class: 'card' }, state, restart, restartMessage.el);
      if (!info.fields.length) return { root: pageSection('app', info.name, `The app this Berth hosts.`, overview) };
      const message = messageArea();
      const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
      const rows = info.fields.map((f) => {
        const id = uid(`app-${f.key}`);
        const value = info.settings[f.key];
        let input: HTMLInputElement | HTMLSelectElement;
        if (f.type === 'boolean') input = h('input', { id, type: 'checkbox', checked: value === true });
        else if (f.type === 'choice') input = h('select', { id }, ...f.choices.map((c) => h('option', { value: c.value, selected: c.value === value }, c.label)));
        else input = h('input', { id, type: f.type === 'number' ? 'number' : 'text', value: String(value ?? '') });
        inputs.set(f.key, input);
        return h('div', { class: 'field' }, h('label', { for: id }, f.label), input, f.help ? h('p', { class: 'hint' }, f.help) : null);
      });
      const save = async (ev: Event) => {
        ev.preventDefault();
        const body: Record<string, unknown> = {};
        for (const f of info.fields) {
          const input = inputs.get(f.key)!;
          body[f.key] = f.type === 'boolean' ? (input as HTMLInputElement).checked : f.type === 'number' ? Number(input.value) : input.value;
        }
        try {
          const saved = await call<{ settings: Record<string, unknown> }>('PUT', '/api/app/settings', body);
          info.settings = saved.settings;
          message.show('ok', 'Saved.');
        } catch (err) {
          message.show('error', problemText(err, 'Saving'));
        }
      };
      const root = pageSection('app', info.name, `The app this Berth hosts, and its settings (saved in its data folder).`, overview, h('form', { class: 'card', onsubmit: save }, h('h2', null, 'Settings'), ...rows, h('button', { type: 'submit', class: 'button primary' }, 'Save')), message.el);
      return { root };
    },
  };
}
