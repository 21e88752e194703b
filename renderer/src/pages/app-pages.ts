/**
 * The pages a hosted app adds to the console (app/hosting: AppDefinition's
 * consolePages and settings), read from GET /api/app: each console page is an
 * ES module of the app's UI, loaded when first shown, whose render(ctx)
 * returns its element; the app's settings get a form made from its fields.
 */
import { ApiError, call, problemText } from '../api';
import { h, uid } from '../dom';
import type { SettingsField } from '../../../app/settings/fields';
import { messageArea, pageSection, type Page } from './page';

interface AppInfo {
  name: string;
  pages: { id: string; title: string; module: string }[];
  fields: SettingsField[];
  settings: Record<string, unknown>;
}

/** What a console page module gets: the DOM builder and the signed-in API caller of the console itself. */
export interface ConsolePageContext {
  h: typeof h;
  api: (method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => Promise<unknown>;
}

/** The hosted app's pages, or none (Berth alone answers 404 here). */
export async function appPages(): Promise<Page[]> {
  let info: AppInfo;
  try {
    info = await call<AppInfo>('GET', '/api/app');
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
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
  if (info.fields.length) pages.push(appSettingsPage(info));
  return pages;
}

/** The app's settings, as a form made from its fields; the server checks them the same way. */
function appSettingsPage(info: AppInfo): Page {
  return {
    id: 'app-settings',
    title: `${info.name} settings`,
    render() {
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
      const root = pageSection('app-settings', `${info.name} settings`, `Settings of ${info.name}, saved in its data folder.`, h('form', { class: 'card', onsubmit: save }, ...rows, h('button', { type: 'submit', class: 'button primary' }, 'Save')), message.el);
      return { root };
    },
  };
}
