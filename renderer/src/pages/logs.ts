/**
 * Logs: the tail of Berth's log, filtered by level and by a search, with new
 * lines arriving live over the event stream while the page is open, and the
 * whole log file to download.
 */
import { api, problemText, type Level, type LogEntry } from '../api';
import { addressText, fill, h, setText } from '../dom';
import { formatTime } from '../format';
import { pageSection, type Page, type PageContext } from './page';

const LEVEL_ORDER: Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const rank = (l: Level) => LEVEL_ORDER.indexOf(l);

/** The live stream carries info and above, so those are the filters offered. */
const FILTERS: { level: Level; label: string; none: string }[] = [
  { level: 'info', label: 'Info and above', none: 'Nothing logged yet.' },
  { level: 'warn', label: 'Warnings and errors', none: 'No warnings or errors. All is well.' },
  { level: 'error', label: 'Errors only', none: 'No errors.' },
];

const MAX_LINES = 1000;

function describe(e: LogEntry): string {
  const err = e.err as { message?: string } | undefined;
  return err?.message && !e.msg.includes(err.message) ? `${e.msg}: ${err.message}` : e.msg;
}

function line(e: LogEntry): HTMLLIElement {
  const when = new Date(e.time);
  const text = describe(e);
  return h(
    'li',
    { class: `log-line level-${e.level}`, 'data-level': e.level, 'data-text': `${e.scope ?? ''} ${text}`.toLowerCase() },
    h('time', { datetime: when.toISOString(), title: when.toLocaleString() }, formatTime(e.time)),
    h('span', { class: 'level' }, e.level.toUpperCase()),
    h('span', { class: 'scope' }, e.scope ?? ''),
    h('span', { class: 'msg' }, addressText(text)),
  );
}

export const logsPage: Page = {
  id: 'logs',
  title: 'Logs',
  render(ctx: PageContext) {
    const select = h('select', { id: 'log-level', name: 'level' }, FILTERS.map((f) => h('option', { value: f.level }, f.label)));
    const search = h('input', { type: 'search', id: 'log-search', name: 'search', autocomplete: 'off', spellcheck: false, placeholder: 'Words in a line' });
    const follow = h('input', { type: 'checkbox', id: 'log-follow', checked: true });
    const count = h('span', { class: 'muted small count', id: 'log-count', 'aria-live': 'off' });
    const download = h('a', { class: 'button small', href: api.logDownloadUrl, download: '', id: 'log-download' }, 'Download log');
    // A list inside the log region: role=log on the list itself would take away its list role.
    const list = h('ol', { class: 'log-list', id: 'log-lines' });
    const region = h(
      'div',
      // role=log is for content that grows; live announcements are off so a busy log does not drown a screen reader.
      { class: 'log', role: 'log', 'aria-live': 'off', 'aria-label': 'Log lines', tabindex: 0 },
      list,
    );
    // Not a log line: an empty filter, or the log could not be loaded.
    const empty = h('p', { class: 'log-empty', id: 'log-empty', role: 'status', hidden: true });
    const file = h('p', { class: 'muted small file-note' });
    let level: Level = 'info';
    let generation = 0;
    let failed = false;

    function matches(li: Element): boolean {
      const q = search.value.trim().toLowerCase();
      return !q || (li.getAttribute('data-text') ?? '').includes(q);
    }

    /** Apply the search to every line, and say what is shown. */
    function refresh() {
      let shown = 0;
      for (const li of Array.from(list.children) as HTMLElement[]) {
        li.hidden = !matches(li);
        if (!li.hidden) shown++;
      }
      const total = list.childElementCount;
      const q = search.value.trim();
      setText(count, q ? `${shown} of ${total} ${total === 1 ? 'line' : 'lines'}` : total === 1 ? '1 line' : `${total} lines`);
      if (failed) return;
      empty.hidden = shown > 0;
      region.hidden = shown === 0;
      if (shown === 0) setText(empty, q ? `No line matches “${q}”.` : (FILTERS.find((f) => f.level === level)?.none ?? 'Nothing here.'));
    }

    function scrollToEnd() {
      if (follow.checked) region.scrollTop = region.scrollHeight;
    }

    async function load() {
      const mine = ++generation;
      try {
        const res = await api.logs(level, 500);
        if (mine !== generation) return;
        failed = false;
        empty.classList.remove('error');
        fill(list, res.entries.map(line));
        fill(file, res.file ? ['Full log: ', h('code', { class: 'path' }, res.file)] : 'The log is kept in memory only (it could not be written to disk).');
        list.dataset.loaded = 'true';
      } catch (err) {
        if (mine !== generation) return;
        // Plain words, outside the list: a failed load is not a log line and is not counted as one.
        failed = true;
        fill(list);
        region.hidden = true;
        empty.classList.add('error');
        setText(empty, problemText(err, 'The log'));
        empty.hidden = false;
      }
      refresh();
      scrollToEnd();
    }

    const off = ctx.live.on('log', (e) => {
      if (failed || rank(e.level) < rank(level)) return;
      list.append(line(e));
      while (list.childElementCount > MAX_LINES) list.firstElementChild?.remove();
      refresh();
      scrollToEnd();
    });

    // Lines logged while the stream was down (a restart) are not replayed, and a failed load is retried: fetch the tail again once back.
    let wasDown = false;
    const offLink = ctx.live.on('link', (state) => {
      if (state === 'live' && (wasDown || failed)) void load();
      wasDown = state !== 'live';
    });

    select.addEventListener('change', () => {
      level = select.value as Level;
      void load();
    });
    search.addEventListener('input', refresh);
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
          h('div', { class: 'field inline search' }, h('label', { for: 'log-search' }, 'Search'), search),
          h('div', { class: 'field check inline' }, follow, h('label', { for: 'log-follow' }, 'Follow new lines')),
          count,
        ),
        region,
        empty,
        h('div', { class: 'log-foot' }, file, download),
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
