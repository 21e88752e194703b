/**
 * Update: the channel and version, Check now, download progress with bytes,
 * size and speed (Cancel; Retry when it stalls), release notes, "Restart to
 * update", and what a pending restart waits for.
 * The state comes from GET /api/update and then live from the `update` event.
 */
import { api, ApiError, problemText, type UpdateState } from '../api';
import { fill, h } from '../dom';
import { formatAgo, formatBytes, formatSpeed, formatTime } from '../format';
import { releaseNotes } from '../notes';
import { messageArea, pageSection, type Page, type PageContext } from './page';

const HEADLINES: Record<UpdateState['state'], (s: UpdateState) => string> = {
  // Before any check there is nothing to say about newer versions.
  idle: (s) => (s.checkedAt ? 'Berth is up to date' : 'Not checked yet'),
  checking: () => 'Checking for updates…',
  available: (s) => `Version ${s.version ?? ''} is available`,
  downloading: (s) => `Downloading version ${s.version ?? ''}…`,
  stalled: (s) => `The download of version ${s.version ?? ''} has stalled`,
  ready: (s) => `Version ${s.version ?? ''} is ready to install`,
  installing: (s) => `Installing version ${s.version ?? ''}…`,
  error: () => 'Could not check for updates',
  disabled: () => 'This copy of Berth does not update itself',
};

/** The channel by its own name (settings.json and the README say `latest`), with what it means. */
const CHANNEL_LABELS: Record<string, string> = { latest: 'latest (stable releases)', beta: 'beta (early versions)' };

export const updatePage: Page = {
  id: 'update',
  title: 'Update',
  render(ctx: PageContext) {
    const body = h('div', { class: 'update-body' }, h('p', { class: 'muted' }, 'Loading…'));
    const message = messageArea();
    const root = pageSection('update', 'Update', 'New versions of Berth, and when they are installed.', body, message.el);
    let unavailable = false;

    async function check() {
      message.clear();
      try {
        await api.checkForUpdate();
        await refresh();
      } catch (err) {
        message.show('error', err instanceof ApiError ? err.message : 'Berth is not answering, so nothing was checked. Try again once it is back.');
      }
    }

    /** Retry (a stalled download resumes; a cancelled one starts again) or Cancel. */
    async function download(action: 'retry' | 'cancel') {
      message.clear();
      try {
        const seen = liveCount;
        const s = action === 'retry' ? await api.retryDownload() : await api.cancelDownload();
        if (liveCount === seen) render(s);
      } catch (err) {
        message.show('error', err instanceof ApiError ? err.message : 'Berth is not answering. Try again once it is back.');
      }
    }

    async function install(state: UpdateState) {
      const ok = await ctx.confirm({
        title: `Restart to update to ${state.version ?? 'the new version'}?`,
        message: 'Berth closes, installs the new version and starts again on the same port. This page reloads when it is back.',
        confirm: 'Restart to update',
      });
      if (!ok) return;
      message.clear();
      try {
        await api.installUpdate();
        message.show('info', 'Installing the update; Berth will be back in a moment…');
      } catch (err) {
        message.show('error', err instanceof ApiError ? err.message : 'Berth is not answering, so nothing was installed. Try again once it is back.');
      }
    }

    let shown: { state: UpdateState['state']; version?: string; note?: string; bar: HTMLProgressElement | null; text: HTMLElement | null } | null = null;

    function render(s: UpdateState) {
      // Progress ticks update the bar in place, so focus and screen-reader position are kept.
      if (shown && shown.bar && shown.text && shown.state === s.state && shown.version === s.version && shown.note === s.note && s.state === 'downloading') {
        shown.bar.value = progressValue(s);
        shown.bar.textContent = `${Math.floor(progressValue(s))}%`;
        shown.text.textContent = progressText(s);
        return;
      }
      const busy = s.state === 'checking' || s.state === 'downloading' || s.state === 'stalled' || s.state === 'installing';
      const downloadButtons =
        s.state === 'stalled' || s.state === 'available' || s.state === 'downloading'
          ? [
              s.state === 'downloading'
                ? null
                : h('button', { type: 'button', class: 'button primary', 'data-action': 'retry', onclick: () => void download('retry') }, s.state === 'stalled' ? 'Retry' : 'Download'),
              s.state === 'available' ? null : h('button', { type: 'button', class: 'button', 'data-action': 'cancel', onclick: () => void download('cancel') }, 'Cancel download'),
            ]
          : null;
      // Nothing to check when this copy cannot update: no button rather than a dead one.
      const checkButton =
        s.state === 'disabled' || s.state === 'available' || s.state === 'stalled' || s.state === 'downloading'
          ? null
          : h(
              'button',
              { type: 'button', class: s.state === 'ready' ? 'button' : 'button primary', disabled: busy, 'data-action': 'check', onclick: () => void check() },
              s.state === 'error' ? 'Try again' : 'Check now',
            );
      const installButton =
        s.state === 'ready' ? h('button', { type: 'button', class: 'button primary', 'data-action': 'install', onclick: () => void install(s) }, 'Restart to update') : null;

      fill(
        body,
        h(
          'article',
          { class: 'card', 'aria-labelledby': 'update-state', 'data-state': s.state },
          h(
            'div',
            { class: 'update-head' },
            h('span', { class: `dot update-${s.state}${s.state === 'idle' && !s.checkedAt ? ' unchecked' : ''}`, 'aria-hidden': 'true' }),
            h('h2', { id: 'update-state' }, HEADLINES[s.state]?.(s) ?? s.state),
          ),
          h(
            'dl',
            { class: 'facts' },
            h('dt', null, 'Current version'),
            h('dd', null, s.currentVersion),
            h('dt', null, 'Channel'),
            // "Change" leads to the channel field; where this copy does not update itself, that field is off, so no link.
            h('dd', null, CHANNEL_LABELS[s.channel] ?? s.channel, s.state === 'disabled' ? null : [' ', h('a', { href: '#/settings/channel', class: 'small', id: 'change-channel' }, 'Change')]),
            s.version && s.state !== 'idle' ? [h('dt', null, 'New version'), h('dd', null, s.version)] : null,
            h('dt', null, 'Last checked'),
            h('dd', null, s.checkedAt ? h('time', { datetime: s.checkedAt }, `${formatTime(s.checkedAt)} (${formatAgo(s.checkedAt)})`) : 'Never'),
          ),
          s.state === 'downloading' || s.state === 'stalled' ? progress(s) : null,
          (s.state === 'error' || s.state === 'stalled' || s.state === 'ready') && s.error
            ? h('p', { class: `message ${s.state === 'error' ? 'error' : 'warn'}`, role: 'alert' }, s.error)
            : null,
          s.state === 'disabled' ? h('p', { class: 'muted update-reason', id: 'update-reason' }, s.reason ?? s.error ?? 'This copy of Berth does not update itself.') : null,
          s.blockers?.length
            ? h(
                'div',
                { class: 'blockers', role: 'note' },
                h('strong', null, 'The restart is waiting for:'),
                h('ul', null, s.blockers.map((b) => h('li', null, b))),
              )
            : null,
          installButton || checkButton || downloadButtons ? h('div', { class: 'actions' }, installButton, downloadButtons, checkButton) : null,
        ),
        s.notes
          ? h('article', { class: 'card', 'aria-labelledby': 'notes-title' }, h('h2', { id: 'notes-title' }, `What’s new in ${s.version ?? 'this version'}`), releaseNotes(s.notes))
          : null,
      );
      shown = { state: s.state, version: s.version, note: s.note, bar: body.querySelector('progress'), text: body.querySelector('#update-progress-text') };
    }

    function progressValue(s: UpdateState): number {
      return Math.max(0, Math.min(100, s.percent ?? 0));
    }

    function progressText(s: UpdateState): string {
      const parts = [`${Math.floor(progressValue(s))}%`];
      if (s.transferred !== undefined && s.total) parts.push(`${formatBytes(s.transferred)} of ${formatBytes(s.total)}`);
      if (s.bytesPerSecond) parts.push(formatSpeed(s.bytesPerSecond));
      return parts.join(' · ');
    }

    function progress(s: UpdateState) {
      return h(
        'div',
        { class: 'progress' },
        h('label', { for: 'update-progress' }, 'Download'),
        h('progress', { id: 'update-progress', max: 100, value: progressValue(s).toFixed(1) }, `${Math.floor(progressValue(s))}%`),
        h('p', { class: 'muted small', id: 'update-progress-text' }, progressText(s)),
        s.note ? h('p', { class: 'muted small', id: 'update-progress-note' }, s.note) : null,
      );
    }

    function renderUnavailable() {
      fill(
        body,
        h(
          'article',
          { class: 'card', 'data-state': 'unavailable' },
          h('h2', null, 'Updates are not available in this build'),
          h('p', { class: 'muted' }, 'This copy of Berth was built without the updater. Install a released version to get updates automatically.'),
        ),
      );
    }

    let loadFailed = false;
    // An answer can arrive after newer states from the live stream (a busy server answers late):
    // one that was overtaken is not shown, since the stream already showed what came after it.
    let liveCount = 0;
    async function refresh() {
      try {
        const seen = liveCount;
        const s = await api.update();
        if (liveCount === seen) render(s);
        loadFailed = false;
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          unavailable = true;
          renderUnavailable();
        } else if (!ctx.live.update) {
          // Nothing to show yet: plain words, and load again once Berth answers.
          loadFailed = true;
          fill(body, h('p', { class: 'message error', role: 'alert' }, problemText(err, 'The update state')));
        }
      }
    }

    if (ctx.live.update) render(ctx.live.update);
    void refresh();
    const off = ctx.live.on('update', (s) => {
      liveCount++;
      loadFailed = false;
      if (!unavailable) render(s);
    });
    const offLink = ctx.live.on('link', (state) => {
      if (state === 'live' && loadFailed) void refresh();
    });
    return {
      root,
      dispose() {
        off();
        offLink();
      },
    };
  },
};
