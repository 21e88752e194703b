/**
 * Logs: the tail of Berth's log, filtered by level, with new lines arriving
 * live over the event stream while the page is open.
 */
import { api, ApiError, type Level, type LogEntry } from '../api';
import { fill, h, setText } from '../dom';
import { formatTime } from '../format';
import { pageSection, type Page, type PageContext } from './page';

const LEVEL_ORDER: Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const rank = (l: Level) => LEVEL_ORDER.indexOf(l);

/** The live stream carries info and above, so those are the filters offered. */
const FILTERS: { level: Level; label: string }[] = [
  { level: 'info', label: 'Info and above' },
  { level: 'warn', label: 'Warnings and errors' },
  { level: 'error', label: 'Errors only' },
];

const MAX_LINES = 1000;

function describe(e: LogEntry): string {
  const err = e.err as { message?: string } | undefined;
  return err?.message && !e.msg.includes(err.message) ? `${e.msg}: ${err.message}` : e.msg;
}

function line(e: LogEntry): HTMLElement {
  return h(
    'li',
    { class: `log-line level-${e.level}`, 'data-level': e.level },
    h('time', { datetime: new Date(e.time).toISOString() }, formatTime(e.time)),
    h('span', { class: 'level' }, e.level.toUpperCase()),
    h('span', { class: 'scope' }, e.scope ?? ''),
    h('span', { class: 'msg' }, describe(e)),
  );
}

export const logsPage: Page = {
  id: 'logs',
  title: 'Logs',
  render(ctx: PageContext) {
    const select = h('select', { id: 'log-level', name: 'level' }, FILTERS.map((f) => h('option', { value: f.level }, f.label)));
    const follow = h('input', { type: 'checkbox', id: 'log-follow', checked: true });
    const count = h('span', { class: 'muted small', 'aria-live': 'off' });
    // role=log is for content that grows; live announcements are off so a busy log does not drown a screen reader.
    const list = h('ol', { class: 'log', id: 'log-lines', role: 'log', 'aria-live': 'off', 'aria-label': 'Log lines', tabindex: 0 });
    const file = h('p', { class: 'muted small' });
    let level: Level = 'info';
    let generation = 0;

    function updateCount() {
      const n = list.childElementCount;
      setText(count, n === 1 ? '1 line' : `${n} lines`);
    }

    function scrollToEnd() {
      if (follow.checked) list.scrollTop = list.scrollHeight;
    }

    async function load() {
      const mine = ++generation;
      try {
        const res = await api.logs(level, 500);
        if (mine !== generation) return;
        fill(list, res.entries.length ? res.entries.map(line) : null);
        fill(file, res.file ? ['Full log: ', h('code', null, res.file)] : 'The log is kept in memory only (it could not be written to disk).');
        list.dataset.loaded = 'true';
      } catch (err) {
        fill(list, h('li', { class: 'log-line level-error' }, err instanceof ApiError ? err.message : `Could not load the log: ${String(err)}`));
      }
      updateCount();
      scrollToEnd();
    }

    const off = ctx.live.on('log', (e) => {
      if (rank(e.level) < rank(level)) return;
      list.append(line(e));
      while (list.childElementCount > MAX_LINES) list.firstElementChild?.remove();
      updateCount();
      scrollToEnd();
    });

    // Lines logged while the stream was down (a restart) are not replayed: fetch the tail again once back.
    let wasDown = false;
    const offLink = ctx.live.on('link', (state) => {
      if (state === 'live' && wasDown) void load();
      wasDown = state !== 'live';
    });

    select.addEventListener('change', () => {
      level = select.value as Level;
      void load();
    });
    follow.addEventListener('change', scrollToEnd);

    const root = pageSection(
      'logs',
      'Logs',
      'What Berth has been doing, newest at the bottom. New lines appear as they happen.',
      h(
        'article',
        { class: 'card' },
        h(
          'div',
          { class: 'toolbar' },
          h('div', { class: 'field inline' }, h('label', { for: 'log-level' }, 'Show'), select),
          h('div', { class: 'field check inline' }, follow, h('label', { for: 'log-follow' }, 'Follow new lines')),
          count,
        ),
        list,
        file,
      ),
    );
    void load();
    return {
      root,
      dispose() {
        off();
        offLink();
      },
    };
  },
};
