/**
 * Status: what is serving where, how long it has been up, what happened to
 * it (restarts, relaunches, moves, with their downtime), what the port probe
 * found at startup, and the controls (restart server, restart app, stop).
 */
import { api, ApiError, type HistoryEntry, type HostStatus, type StartupProbe } from '../api';
import { addressText, fill, h, setText } from '../dom';
import { formatAgo, formatDowntime, formatTime, formatUptime } from '../format';
import type { LinkState, Outage } from '../live';
import { messageArea, pageSection, type Page, type PageContext } from './page';
import { howToStart } from '../start-hint';

const STATE_LABELS: Record<HostStatus['state'], string> = {
  idle: 'Idle',
  starting: 'Starting',
  serving: 'Serving',
  restarting: 'Restarting',
  draining: 'Stopping',
  relaunching: 'Relaunching',
  stopped: 'Stopped',
  conflict: 'Port conflict',
};

const EVENT_LABELS: Record<HistoryEntry['kind'], string> = {
  start: 'Started',
  restart: 'Server restarted',
  relaunch: 'App relaunched',
  move: 'Moved to a new address',
  recovered: 'Started again by the guardian',
};

const VERDICT_LABELS: Record<StartupProbe['verdict'], string> = {
  free: 'Port free',
  duplicate: 'Berth already running',
  predecessor: 'Previous Berth handing over',
  foreign: 'Another program',
  silent: 'No answer',
  'no-address': 'No such address',
};

/** How often connection counts and uptime are refreshed from the server while this page is visible. */
const REFRESH_MS = 5000;

export const statusPage: Page = {
  id: 'status',
  title: 'Status',
  render(ctx: PageContext) {
    const pill = h('span', { class: 'pill' });
    const since = h('span', { class: 'muted' });
    const urlText = h('code', { class: 'url', id: 'status-url' });
    const copied = h('span', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    const copyButton = h('button', { type: 'button', class: 'button small', 'aria-describedby': 'status-url', onclick: () => void copyUrl() }, 'Copy');
    const facts = {
      port: h('dd'),
      pid: h('dd'),
      version: h('dd'),
      uptime: h('dd'),
      instance: h('dd', { class: 'mono' }),
      connections: h('dd'),
      dataDir: h('dd', { class: 'mono wrap' }),
      logFile: h('dd', { class: 'mono wrap' }),
    };
    const handoff = h('p', { class: 'muted small', hidden: true });
    // While Berth is out of reach, what the card shows is its last known state.
    const staleNote = h('p', { class: 'stale-note small', id: 'stale-note', hidden: true });
    let lastHeard = Date.now();
    const historyBody = h('tbody');
    const startupBody = h('tbody');
    const controlsMessage = messageArea();

    let status: HostStatus | null = ctx.live.status;
    /** Restarts in the history when Restart server was asked; the next one reports back. */
    let awaitingRestart: number | null = null;
    const restarts = (h: HistoryEntry[]) => h.filter((e) => e.kind === 'restart');
    let receivedAt = performance.now();

    const fact = (label: string, dd: HTMLElement) => [h('dt', null, label), dd];

    const diagnosticsMessage = messageArea();
    const diagnosticsButton = h('button', { type: 'button', class: 'button', id: 'copy-diagnostics', onclick: () => void copyDiagnostics() }, 'Copy diagnostics');

    async function copyDiagnostics() {
      diagnosticsMessage.clear();
      diagnosticsButton.disabled = true;
      let text: string;
      try {
        text = await api.diagnostics(Intl.DateTimeFormat().resolvedOptions().timeZone);
      } catch (err) {
        diagnosticsMessage.show('error', err instanceof ApiError ? err.message : 'Berth is not answering, so there is nothing to copy. Try again once it is back.');
        return;
      } finally {
        diagnosticsButton.disabled = false;
      }
      try {
        await navigator.clipboard.writeText(text);
        diagnosticsMessage.show('ok', `Copied ${text.split('\n').length} lines. Paste them into an issue.`);
      } catch {
        // Not a secure context (a LAN address over http): show the text, selected, for Ctrl+C.
        showDiagnostics(text);
      }
    }

    function showDiagnostics(text: string) {
      const area = h('textarea', { class: 'diagnostics-text', readonly: true, rows: 14, 'aria-label': 'Diagnostics' });
      area.value = text;
      const close = h('button', { type: 'submit', class: 'button primary', value: 'close' }, 'Close');
      const dialog = h(
        'dialog',
        { class: 'confirm wide', 'aria-labelledby': 'diagnostics-dialog-title' },
        h('form', { method: 'dialog' }, h('h2', { id: 'diagnostics-dialog-title' }, 'Diagnostics'), h('p', null, 'The browser would not copy here. The text is selected: press Ctrl+C (⌘C on a Mac) to copy it.'), area, h('div', { class: 'dialog-actions' }, close)),
      );
      document.body.append(dialog);
      dialog.addEventListener('close', () => dialog.remove());
      dialog.showModal();
      area.focus();
      area.select();
    }

    async function copyUrl() {
      if (!status) return;
      try {
        await navigator.clipboard.writeText(status.url);
      } catch {
        // Not a secure context (a LAN address over http): fall back to selecting the text for Ctrl+C.
        const range = document.createRange();
        range.selectNodeContents(urlText);
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
        setText(copied, 'Address selected; press Ctrl+C to copy it.');
        return;
      }
      setText(copyButton, 'Copied');
      setText(copied, 'Address copied');
      window.setTimeout(() => {
        setText(copyButton, 'Copy');
        setText(copied, '');
      }, 2000);
    }

    /** The clock runs only while Berth is known to be serving: a lost link stops it where it was last seen. */
    let frozenAt: number | null = null;
    function renderUptime() {
      if (!status) return;
      const now = frozenAt ?? performance.now();
      const up = status.state === 'serving' ? status.uptimeMs + (now - receivedAt) : status.uptimeMs;
      setText(facts.uptime, formatUptime(up));
    }

    function render(s: HostStatus) {
      status = s;
      receivedAt = performance.now();
      lastHeard = Date.now();
      if (ctx.live.state === 'live') frozenAt = null;
      pill.className = `pill state-${s.state}`;
      setText(pill, STATE_LABELS[s.state] ?? s.state);
      setText(since, `since ${formatTime(s.startedAt)}`);
      setText(urlText, s.url);
      setText(facts.port, String(s.port));
      setText(facts.pid, String(s.pid));
      setText(facts.version, s.version);
      setText(facts.instance, s.instance);
      setText(facts.connections, String(s.connections));
      setText(facts.dataDir, s.dataDir);
      setText(facts.logFile, s.logFile ?? 'not written to disk');
      renderUptime();
      handoff.hidden = !s.handoffFrom;
      setText(handoff, s.handoffFrom ? `Took the port over from instance ${s.handoffFrom}.` : '');
      renderHistory(s.history);
      renderStartup(s.startup);
      const done = restarts(s.history);
      if (awaitingRestart !== null && done.length > awaitingRestart) {
        awaitingRestart = null;
        const downtime = done.at(-1)!.downtimeMs;
        controlsMessage.show('ok', downtime === 0 ? 'Server restarted. The port stayed open: no request was refused.' : `Server restarted. The port was unavailable for ${formatDowntime(downtime)}.`);
      }
    }

    function renderHistory(history: HistoryEntry[]) {
      const rows = history
        .slice()
        .reverse()
        .map((e) =>
          h(
            'tr',
            { 'data-kind': e.kind },
            h('td', { 'data-label': 'When' }, h('time', { datetime: e.at, title: formatAgo(e.at) }, formatTime(e.at))),
            h('td', { 'data-label': 'What' }, EVENT_LABELS[e.kind] ?? e.kind),
            h('td', { class: 'num', 'data-label': 'Downtime' }, formatDowntime(e.downtimeMs)),
            h('td', { class: 'muted', 'data-label': 'Details' }, e.detail ? addressText(e.detail.replace(/ -> /g, ' → ')) : ''),
          ),
        );
      fill(historyBody, rows.length ? rows : h('tr', null, h('td', { colspan: 4, class: 'empty' }, 'Nothing yet.')));
    }

    function renderStartup(probes: StartupProbe[]) {
      const rows = probes.map((p) =>
        h(
          'tr',
          { 'data-verdict': p.verdict },
          h('td', { class: 'mono address', 'data-label': 'Address' }, p.address),
          h('td', { 'data-label': 'Verdict' }, h('span', { class: `tag verdict-${p.verdict}` }, VERDICT_LABELS[p.verdict] ?? p.verdict)),
          h('td', { 'data-label': 'What answered' }, addressText(p.what)),
          h('td', { 'data-label': 'What Berth did' }, addressText(p.action)),
          h('td', { class: 'num', 'data-label': 'Probe' }, p.verdict === 'no-address' ? 'not probed' : `${p.ms} ms`),
        ),
      );
      fill(startupBody, rows.length ? rows : h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'No probe recorded.')));
    }

    async function act(kind: 'restart' | 'relaunch' | 'stop') {
      const port = status?.port ?? '';
      const ask = {
        restart: {
          title: 'Restart the server?',
          message: `Berth closes its web server and opens it again on port ${port}, usually within a few milliseconds. Open pages reconnect by themselves.`,
          confirm: 'Restart server',
        },
        relaunch: {
          title: 'Restart the app?',
          message: `Berth starts a fresh copy of itself, which takes over port ${port}. This page reloads when the new copy is ready.`,
          confirm: 'Restart app',
        },
        stop: {
          title: 'Stop Berth?',
          message: [document.createTextNode('The server stops and this page goes offline until Berth is started again. '), ...howToStart(status?.startCommand, '')],
          confirm: 'Stop Berth',
          danger: true,
        },
      }[kind];
      if (!(await ctx.confirm(ask))) return;
      controlsMessage.clear();
      try {
        if (kind === 'stop') ctx.live.expectStop();
        if (kind === 'restart') awaitingRestart = restarts(status?.history ?? []).length;
        await (kind === 'restart' ? api.restart() : kind === 'relaunch' ? api.relaunch() : api.stop());
        controlsMessage.show('info', kind === 'stop' ? 'Stopping…' : kind === 'restart' ? 'Restarting the server…' : 'Restarting Berth…');
      } catch (err) {
        controlsMessage.show('error', err instanceof ApiError ? err.message : 'Berth is not answering, so nothing was done. Try again once it is back.');
      }
    }

    const control = (label: string, description: string, kind: 'restart' | 'relaunch' | 'stop', danger = false) =>
      h(
        'div',
        { class: 'control' },
        h('p', { class: 'muted' }, description),
        h('button', { type: 'button', class: danger ? 'button danger-outline' : 'button', 'data-action': kind, onclick: () => void act(kind) }, label),
      );

    const root = pageSection(
      'status',
      'Status',
      'Where Berth is serving, and what it has been doing.',
      h(
        'div',
        { class: 'grid' },
        h(
          'article',
          { class: 'card summary', 'aria-labelledby': 'summary-title' },
          h('h2', { id: 'summary-title', class: 'visually-hidden' }, 'Server'),
          h('div', { class: 'summary-top' }, pill, since),
          staleNote,
          h('div', { class: 'url-row' }, h('span', { class: 'label' }, 'Address'), urlText, copyButton, copied),
          h(
            'dl',
            { class: 'facts' },
            fact('Port', facts.port),
            fact('Process id', facts.pid),
            fact('Version', facts.version),
            fact('Uptime', facts.uptime),
            fact('Open connections', facts.connections),
            fact('Instance', facts.instance),
          ),
          handoff,
        ),
        h(
          'article',
          { class: 'card controls', 'aria-labelledby': 'controls-title' },
          h('h2', { id: 'controls-title' }, 'Controls'),
          control('Restart server', 'Reopen the web server on the same port, in place. Open pages reconnect by themselves.', 'restart'),
          control('Restart app', 'Start a fresh Berth process that takes over the port. This page follows it.', 'relaunch'),
          control('Stop', 'Shut Berth down until you start it again.', 'stop', true),
          controlsMessage.el,
        ),
      ),
      h(
        'article',
        { class: 'card', 'aria-labelledby': 'history-title' },
        h('h2', { id: 'history-title' }, 'Restarts and relaunches'),
        h('p', { class: 'muted small' }, 'Downtime is how long the port was not accepting connections.'),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table stack', id: 'history' },
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col', class: 'num' }, 'Downtime'), h('th', { scope: 'col' }, 'Details'))),
            historyBody,
          ),
        ),
      ),
      h(
        'article',
        { class: 'card', 'aria-labelledby': 'startup-title' },
        h('h2', { id: 'startup-title' }, 'Port checks'),
        h('p', { class: 'muted small' }, 'Each time Berth takes a port (when it starts, or moves), it first looks at what is already there and decides what to do.'),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table stack', id: 'startup' },
            h(
              'thead',
              null,
              h('tr', null, h('th', { scope: 'col' }, 'Address'), h('th', { scope: 'col' }, 'Verdict'), h('th', { scope: 'col' }, 'What answered'), h('th', { scope: 'col' }, 'What Berth did'), h('th', { scope: 'col', class: 'num' }, 'Probe')),
            ),
            startupBody,
          ),
        ),
      ),
      h(
        'article',
        { class: 'card', 'aria-labelledby': 'files-title' },
        h('h2', { id: 'files-title' }, 'Files'),
        h('dl', { class: 'facts' }, fact('Data folder', facts.dataDir), fact('Log file', facts.logFile)),
      ),
      h(
        'article',
        { class: 'card', 'aria-labelledby': 'diagnostics-title' },
        h('h2', { id: 'diagnostics-title' }, 'Something wrong?'),
        h(
          'p',
          { class: 'muted' },
          'Copy diagnostics puts what helps find a problem on the clipboard, ready to paste into an issue: version, system, paths, settings, port checks, update state, history and the last 200 log lines. It holds no token, secret or cookie. ',
          h('code', null, 'berth diagnose'),
          ' prints the same in a terminal.',
        ),
        h('div', { class: 'actions' }, diagnosticsButton),
        diagnosticsMessage.el,
      ),
    );

    // Controls only work while the stream is up; a stopped Berth shows as stopped, not as "stopping" forever.
    function showLink(state: LinkState) {
      for (const b of root.querySelectorAll<HTMLButtonElement>('.controls button')) b.disabled = state !== 'live';
      if (state !== 'live' && frozenAt === null) frozenAt = performance.now();
      if (state === 'stopped') {
        pill.className = 'pill state-stopped';
        setText(pill, STATE_LABELS.stopped);
        controlsMessage.clear();
      }
    }

    // Out of reach for more than a moment: the last known facts stay, marked as such, and the clock stands still.
    function showOutage(outage: Outage) {
      const stale = outage !== 'none';
      root.classList.toggle('stale', stale);
      staleNote.hidden = !stale;
      if (!stale) {
        if (status) render(status);
        return;
      }
      if (ctx.live.state !== 'stopped') {
        pill.className = 'pill state-unknown';
        setText(pill, 'Not reachable');
      }
      setText(staleNote, `Last heard from Berth at ${formatTime(lastHeard)}. The figures below are from then.`);
      renderUptime();
    }

    if (status) render(status);
    const off = ctx.live.on('status', render);
    const offLink = ctx.live.on('link', showLink);
    const offOutage = ctx.live.on('outage', showOutage);
    showLink(ctx.live.state);
    showOutage(ctx.live.outage);
    const tick = window.setInterval(renderUptime, 1000);
    // Connection counts change without an event; refresh them while the page is in view.
    const poll = window.setInterval(() => {
      if (document.visibilityState !== 'visible' || ctx.live.state !== 'live') return;
      api.status().then(render, () => undefined);
    }, REFRESH_MS);
    return {
      root,
      dispose() {
        off();
        offLink();
        offOutage();
        window.clearInterval(tick);
        window.clearInterval(poll);
      },
    };
  },
};
