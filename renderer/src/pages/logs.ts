/**
 * Logs: the log files themselves (every Berth that used this data folder,
 * rotated segments included), newest first, a page at a time. Level, search
 * and time range are applied by the server over the whole log; the page
 * holds one page of lines however long the log is. New lines arrive live at
 * the top while the newest page is shown. Each line can be copied as shown,
 * and a long one is cut with a control that shows it whole.
 */
import { api, problemText, type Level, type LogLine, type LogPage, type LogQuery } from '../api';
import { addressText, fill, h, setText } from '../dom';
import { formatTime } from '../format';
import { pageSection, type Page, type PageContext } from './page';

const LEVEL_ORDER: Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const rank = (l: Level) => LEVEL_ORDER.indexOf(l);

const FILTERS: { level: Level; label: string; none: string }[] = [
  { level: 'debug', label: 'Everything (debug and up)', none: 'Nothing logged yet.' },
  { level: 'info', label: 'Info and above', none: 'Nothing logged yet.' },
  { level: 'warn', label: 'Warnings and errors', none: 'No warnings or errors. All is well.' },
  { level: 'error', label: 'Errors only', none: 'No errors.' },
];

const RANGES: { value: string; label: string; ms?: number }[] = [
  { value: 'any', label: 'Any time' },
  { value: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { value: '1h', label: 'Last hour', ms: 3_600_000 },
  { value: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { value: 'custom', label: 'Between…' },
];

const PAGE_SIZE = 200;
/** Longer messages are cut here, with a control that shows them whole. */
const CUT_AT = 240;
/** Lines that arrived live beyond a page: the oldest leave the page (they are on the next one). */
const MAX_ROWS = PAGE_SIZE * 2;

const number = (n: number) => n.toLocaleString('en-US');
/** Lines come back readable in this page's time zone (what Copy copies). */
const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** What a line says: its message, and its error's words when the message does not already hold them (app/logs/format.ts lineText). */
function describe(e: LogLine): string {
  return e.err && !e.msg.includes(e.err) ? `${e.msg}: ${e.err}` : e.msg;
}

export const logsPage: Page = {
  id: 'logs',
  title: 'Logs',
  render(ctx: PageContext) {
    const select = h('select', { id: 'log-level', name: 'level' }, FILTERS.map((f) => h('option', { value: f.level, selected: f.level === 'info' }, f.label)));
    const search = h('input', { type: 'search', id: 'log-search', name: 'search', autocomplete: 'off', spellcheck: false, placeholder: 'Words in a line' });
    const range = h('select', { id: 'log-range', name: 'range' }, RANGES.map((r) => h('option', { value: r.value }, r.label)));
    const from = h('input', { type: 'datetime-local', id: 'log-from', name: 'from', step: 1 });
    const to = h('input', { type: 'datetime-local', id: 'log-to', name: 'to', step: 1 });
    const custom = h(
      'div',
      { class: 'range-custom', hidden: true },
      h('div', { class: 'field inline' }, h('label', { for: 'log-from' }, 'From'), from),
      h('div', { class: 'field inline' }, h('label', { for: 'log-to' }, 'To'), to),
    );
    const follow = h('input', { type: 'checkbox', id: 'log-follow', checked: true });
    const count = h('span', { class: 'muted small count', id: 'log-count', role: 'status', 'aria-live': 'polite' });
    const download = h('a', { class: 'button small', href: api.logDownloadUrl, download: '', id: 'log-download' }, 'Download');
    // The second choice: the files as they are, every line, for a bug report or a tool.
    const downloadJson = h('a', { class: 'small', href: `${api.logDownloadUrl}?format=json`, download: '', id: 'log-download-json' }, 'Raw JSON lines (whole log)');
    // A list inside the log region: role=log on the list itself would take away its list role.
    const list = h('ol', { class: 'log-list', id: 'log-lines' });
    const region = h(
      'div',
      // role=log is for content that grows; live announcements are off so a busy log does not drown a screen reader.
      { class: 'log', role: 'log', 'aria-live': 'off', 'aria-label': 'Log lines, newest first', tabindex: 0 },
      list,
    );
    // Not a log line: an empty filter, or the log could not be loaded.
    const empty = h('p', { class: 'log-empty', id: 'log-empty', role: 'status', hidden: true });
    const position = h('span', { class: 'muted small', id: 'log-position' });
    const newest = h('button', { type: 'button', class: 'button small', id: 'log-newest' }, 'Newest lines');
    const newer = h('button', { type: 'button', class: 'button small', id: 'log-newer' }, 'Newer lines');
    const older = h('button', { type: 'button', class: 'button small', id: 'log-older' }, 'Older lines');
    const pager = h('div', { class: 'log-pager' }, position, h('div', { class: 'actions' }, newest, newer, older));
    const file = h('p', { class: 'muted small file-note' });
    const copied = h('span', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });

    let level: Level = 'info';
    /** The start of each page shown so far (null: the newest); the last is the page on screen. */
    let pages: (string | null)[] = [null];
    let nextOlder: string | null = null;
    let totals = { total: 0, matching: 0 };
    let generation = 0;
    let failed = false;
    /** Live lines that came while a page was loading: shown once it is in, unless the page read them from the file. */
    let arrived: LogLine[] = [];
    /** What makes a line the same line, whether it came from the file or live (their ids differ). */
    const keys = new WeakMap<Element, string>();
    const keyOf = (e: LogLine) => `${e.time}|${e.pid ?? ''}|${e.level}|${describe(e)}`;

    function query(): LogQuery {
      const q: LogQuery = {};
      // Everything: no level at all, so the count is of every line in the log.
      if (level !== 'debug') q.level = level;
      const words = search.value.trim();
      if (words) q.q = words;
      const choice = RANGES.find((r) => r.value === range.value);
      if (choice?.ms) q.from = Date.now() - choice.ms;
      if (range.value === 'custom') {
        if (from.value) q.from = new Date(from.value).getTime();
        // The end of the second (or minute) typed, inclusive.
        if (to.value) q.to = new Date(to.value).getTime() + (to.value.length > 16 ? 999 : 59_999);
      }
      return q;
    }
    const filtered = () => Object.keys(query()).length > 0;

    async function copyLine(e: LogLine, button: HTMLButtonElement) {
      // The server's readable form of the line, in this page's time zone.
      const text = e.text ?? describe(e);
      try {
        await navigator.clipboard.writeText(text);
        setText(button, 'Copied');
        setText(copied, 'Line copied');
        window.setTimeout(() => {
          setText(button, 'Copy');
          setText(copied, '');
        }, 2000);
      } catch {
        // Not a secure context (a LAN address over http): select the line's text for Ctrl+C.
        const range = document.createRange();
        range.selectNodeContents(button.closest('li')!.querySelector('.msg')!);
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
        setText(copied, 'Line selected; press Ctrl+C to copy it.');
      }
    }

    function row(e: LogLine): HTMLLIElement {
      const when = new Date(e.time);
      const text = describe(e);
      const long = text.length > CUT_AT;
      const msg = h('span', { class: 'msg', id: `msg-${e.id.replace(/\W/g, '-')}` }, addressText(long ? `${text.slice(0, CUT_AT)}…` : text));
      const copy = h('button', { type: 'button', class: 'line-action copy', 'aria-label': 'Copy line', title: 'Copy this line' }, 'Copy');
      copy.addEventListener('click', () => void copyLine(e, copy));
      let expand: HTMLButtonElement | null = null;
      if (long) {
        expand = h('button', { type: 'button', class: 'line-action expand', 'aria-expanded': 'false', 'aria-controls': msg.id }, `Show all ${number(text.length)} characters`);
        expand.addEventListener('click', () => {
          const open = expand!.getAttribute('aria-expanded') !== 'true';
          expand!.setAttribute('aria-expanded', String(open));
          fill(msg, addressText(open ? text : `${text.slice(0, CUT_AT)}…`));
          setText(expand!, open ? 'Show less' : `Show all ${number(text.length)} characters`);
        });
      }
      const li = h(
        'li',
        { class: `log-line level-${e.level}`, 'data-level': e.level, 'data-id': e.id, 'data-pid': e.pid ?? '' },
        e.time ? h('time', { datetime: when.toISOString(), title: when.toLocaleString() }, formatTime(e.time)) : h('span', null, '—'),
        h('span', { class: 'level' }, e.level.toUpperCase()),
        h('span', { class: 'scope', title: e.pid ? `process ${e.pid}` : undefined }, e.scope ?? ''),
        msg,
        h('span', { class: 'line-actions' }, expand, copy),
      );
      keys.set(li, keyOf(e));
      return li;
    }

    function showCounts() {
      const { total, matching } = totals;
      // Not loaded: nothing is known about the log, so nothing is counted.
      if (failed) {
        setText(count, '');
        setText(position, '');
        pager.hidden = true;
        return;
      }
      setText(count, filtered() ? `${number(matching)} of ${number(total)} ${total === 1 ? 'line' : 'lines'}` : `${number(total)} ${total === 1 ? 'line' : 'lines'}`);
      const first = (pages.length - 1) * PAGE_SIZE + 1;
      const shown = list.childElementCount;
      setText(position, shown ? `Lines ${number(first)}–${number(first + shown - 1)} of ${number(filtered() ? matching : total)}, newest first` : '');
      newest.disabled = newer.disabled = pages.length === 1;
      older.disabled = !nextOlder;
      pager.hidden = pages.length === 1 && !nextOlder;
    }

    function showEmpty() {
      if (failed) return;
      const shown = list.childElementCount;
      empty.hidden = shown > 0;
      region.hidden = shown === 0;
      if (shown > 0) return;
      const words = search.value.trim();
      if (words) setText(empty, `No line matches “${words}”.`);
      else if (range.value !== 'any') setText(empty, 'No line in this time range.');
      else setText(empty, FILTERS.find((f) => f.level === level)?.none ?? 'Nothing here.');
    }

    function downloadLinks() {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query())) params.set(k, String(v));
      // The readable download shows this page's local time.
      params.set('tz', timeZone);
      download.href = `${api.logDownloadUrl}?${params}`;
    }

    async function load(before: string | null = pages.at(-1) ?? null) {
      const mine = ++generation;
      // The server answers with every line logged before it was asked (it waits for the file): only later ones can be missing.
      arrived = [];
      downloadLinks();
      region.setAttribute('aria-busy', 'true');
      list.dataset.loaded = 'false';
      try {
        const res: LogPage & { file: string | null } = await api.logs({ ...query(), before, limit: PAGE_SIZE, tz: timeZone });
        if (mine !== generation) return;
        failed = false;
        empty.classList.remove('error');
        totals = { total: res.total, matching: res.matching };
        nextOlder = res.older;
        fill(list, res.entries.map(row));
        fill(file, res.file ? ['Log files: ', h('code', { class: 'path' }, res.file), ' and the older ones beside it.'] : 'The log is kept in memory only (it could not be written to disk).');
        region.scrollTop = 0;
        list.dataset.loaded = 'true';
        const later = arrived;
        arrived = [];
        for (const e of later) addLive(e);
      } catch (err) {
        if (mine !== generation) return;
        arrived = [];
        // Plain words, outside the list: a failed load is not a log line and is not counted as one.
        failed = true;
        fill(list);
        region.hidden = true;
        empty.classList.add('error');
        setText(empty, problemText(err, 'The log'));
        empty.hidden = false;
      }
      region.setAttribute('aria-busy', 'false');
      list.dataset.loaded = 'true';
      showCounts();
      showEmpty();
    }

    /** A new query: back to the newest page. */
    function reload() {
      pages = [null];
      void load(null);
    }

    const matchesLive = (e: LogLine) => {
      const q = query();
      if (q.level && rank(e.level) < rank(q.level)) return false;
      if (q.from !== undefined && e.time < q.from) return false;
      if (q.to !== undefined && e.time > q.to) return false;
      return !q.q || `${e.scope ?? ''} ${describe(e)}`.toLowerCase().includes(q.q.toLowerCase());
    };

    /** Whether one of the newest rows is this line, read from the file by a page that loaded after it was logged. */
    function shown(e: LogLine): boolean {
      const key = keyOf(e);
      let li = list.firstElementChild;
      for (let i = 0; li && i < 50; i++, li = li.nextElementSibling) if (keys.get(li) === key) return true;
      return false;
    }

    function addLive(e: LogLine) {
      if (shown(e)) return;
      totals.total++;
      if (!matchesLive(e)) return showCounts();
      totals.matching++;
      // On the newest page, following: at the top. Elsewhere the line is counted and waits on the newest page.
      if (pages.length === 1 && follow.checked) {
        list.prepend(row(e));
        while (list.childElementCount > MAX_ROWS) {
          list.lastElementChild!.remove();
          nextOlder = (list.lastElementChild as HTMLElement | null)?.dataset.id ?? nextOlder;
        }
      }
      showCounts();
      showEmpty();
    }

    const off = ctx.live.on('log', (e) => {
      if (failed) return;
      if (list.dataset.loaded !== 'true') arrived.push(e);
      else addLive(e);
    });

    // Lines logged while the stream was down (a restart, another process) and a failed load: read the file again once back.
    let wasDown = false;
    const offLink = ctx.live.on('link', (state) => {
      if (state === 'live' && (wasDown || failed) && pages.length === 1) void load(null);
      wasDown = state !== 'live';
    });

    let typing: number | undefined;
    select.addEventListener('change', () => {
      level = select.value as Level;
      reload();
    });
    search.addEventListener('input', () => {
      window.clearTimeout(typing);
      typing = window.setTimeout(reload, 250);
    });
    search.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        window.clearTimeout(typing);
        reload();
      }
    });
    range.addEventListener('change', () => {
      custom.hidden = range.value !== 'custom';
      reload();
    });
    // Typed or picked: a time is read once it is complete (a datetime-local input's value is empty until then).
    for (const input of [from, to]) {
      input.addEventListener('change', reload);
      input.addEventListener('input', () => {
        window.clearTimeout(typing);
        typing = window.setTimeout(reload, 250);
      });
    }
    follow.addEventListener('change', () => {
      if (follow.checked && pages.length > 1) reload();
    });
    older.addEventListener('click', () => {
      if (!nextOlder) return;
      pages.push(nextOlder);
      void load(nextOlder);
    });
    newer.addEventListener('click', () => {
      if (pages.length === 1) return;
      pages.pop();
      void load(pages.at(-1) ?? null);
    });
    newest.addEventListener('click', reload);

    const root = pageSection(
      'logs',
      'Logs',
      'What Berth has done, newest first: this process and every Berth before it on this data folder. New lines appear at the top as they happen.',
      h(
        'article',
        { class: 'card' },
        h(
          'div',
          { class: 'toolbar' },
          h('div', { class: 'field inline' }, h('label', { for: 'log-level' }, 'Show'), select),
          h('div', { class: 'field inline search' }, h('label', { for: 'log-search' }, 'Search'), search),
          h('div', { class: 'field inline' }, h('label', { for: 'log-range' }, 'When'), range),
          h('div', { class: 'field check inline' }, follow, h('label', { for: 'log-follow' }, 'Follow new lines')),
          count,
        ),
        custom,
        region,
        empty,
        pager,
        h('div', { class: 'log-foot' }, file, h('div', { class: 'actions' }, download, downloadJson)),
        copied,
      ),
    );
    void load(null);
    return {
      root,
      dispose() {
        off();
        offLink();
        window.clearTimeout(typing);
      },
    };
  },
};
