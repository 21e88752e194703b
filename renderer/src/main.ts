/**
 * The shell: checks the session, then draws the header, the navigation and
 * the current page, and keeps one LiveLink (the event stream) for all pages.
 */
import './styles/app.css';
import { api, whenUnauthorized } from './api';
import { confirmAction } from './dialog';
import { fill, h, setText } from './dom';
import { LiveLink, type LinkState, type Outage } from './live';
import { recoveredBanner } from './recovered';
import { pages as berthPages } from './pages/index';
import { appPages } from './pages/app-pages';
import type { Page, PageView } from './pages/page';
import { signedOutView } from './signed-out';
import { howToStart } from './start-hint';
import { showTabState, tabStateOf } from './tab-state';

const LINK_LABELS: Record<LinkState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  stopped: 'Stopped',
  'signed-out': 'Signed out',
};

const app = document.getElementById('app')!;
const ICON = new URL('../../build/source/icon.svg', import.meta.url).href;

/** The last start command a live page heard, for the offline page of a tab reloaded while Berth is away. */
const START_KEY = 'berth.start-command';

function brand(version?: HTMLElement) {
  return h(
    'div',
    { class: 'brand' },
    h('img', { src: ICON, alt: '', width: 28, height: 28 }),
    h('span', { class: 'brand-name' }, 'Berth'),
    version,
  );
}

/**
 * What the address said when this page loaded, read once and removed from
 * the address bar: a rejected ?token= (the server adds signin=rejected), a
 * sign-in link used already or too old (signin=expired) and
 * a port move this tab followed (moved-from=8787).
 */
const arrival = (() => {
  const url = new URL(location.href);
  const notes = { tokenRejected: url.searchParams.get('signin') === 'rejected', linkExpired: url.searchParams.get('signin') === 'expired', movedFrom: url.searchParams.get('moved-from') };
  if (url.searchParams.has('signin') || url.searchParams.has('moved-from')) {
    url.searchParams.delete('signin');
    url.searchParams.delete('moved-from');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  }
  return notes;
})();

function showSignedOut(): void {
  document.documentElement.dataset.link = 'signed-out';
  showTabState('signed-out', null, ICON);
  document.title = 'Berth: open it from the app';
  fill(app, h('header', { class: 'topbar' }, brand()), h('main', { id: 'main', class: 'main', tabindex: -1 }, signedOutView({ tokenRejected: arrival.tokenRejected, linkExpired: arrival.linkExpired })));
}

/** Berth's pages, then those of the app it hosts (if any). */
let pages: Page[] = berthPages;

function pageFromHash(): Page {
  const id = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return pages.find((p) => p.id === id) ?? pages[0]!;
}

function startShell(): void {
  const live = new LiveLink();
  const version = h('span', { class: 'brand-version' });
  const linkPill = h('span', { class: 'link-state', id: 'link-state' });
  const banner = h(
    'div',
    { class: 'banner', id: 'banner', role: 'status', 'aria-live': 'polite', hidden: true },
    h('strong', { class: 'banner-title' }),
    h('span', { class: 'banner-detail' }),
    h('button', { type: 'button', class: 'button small banner-close', hidden: true, onclick: () => (banner.hidden = true) }, 'Dismiss'),
  );
  const nav = h('nav', { class: 'nav', 'aria-label': 'Pages' });
  const links = pages.map((p) => h('a', { href: `#/${p.id}`, class: 'nav-link', 'data-page': p.id }, p.title));
  fill(nav, links);
  const main = h('main', { id: 'main', class: 'main', tabindex: -1 });
  const skip = h(
    'a',
    {
      class: 'skip-link',
      href: '#main',
      onclick: (ev: Event) => {
        // The hash is the router's; move focus without navigating.
        ev.preventDefault();
        main.focus();
      },
    },
    'Skip to content',
  );
  const recovered = recoveredBanner();
  fill(app, skip, h('header', { class: 'topbar' }, brand(version), nav, linkPill), banner, recovered.root, main);

  let view: PageView | null = null;
  let first = true;
  let currentTitle: string | null = null;
  // The tab's title and icon follow the link, the outage and a waiting update (the update feed's state).
  const showTab = () => showTabState(tabStateOf(live.state, live.outage, live.update?.state === 'ready'), currentTitle, ICON);
  function route() {
    const page = pageFromHash();
    view?.dispose?.();
    view = page.render({ live, confirm: confirmAction });
    fill(main, view.root);
    for (const a of links) {
      if (a.dataset.page === page.id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    currentTitle = page.title;
    showTab();
    // After a navigation, put keyboard and screen-reader focus on the new page's heading.
    if (!first) view.root.querySelector<HTMLElement>('h1')?.focus();
    first = false;
  }

  function showBanner(kind: 'warn' | 'neutral' | 'ok', title: string, detail: Node[]) {
    setText(banner.querySelector('.banner-title')!, title);
    fill(banner.querySelector('.banner-detail')!, detail);
    banner.className = `banner ${kind}`;
    // Only good news can be dismissed; the others go away when they stop being true.
    banner.querySelector<HTMLElement>('.banner-close')!.hidden = kind !== 'ok';
    banner.hidden = false;
  }

  // The banner follows how long Berth has been out of reach (live.ts): nothing for a quick restart.
  function showOutage(outage: Outage) {
    document.documentElement.dataset.outage = outage;
    const state = live.state;
    // Still trying, but no longer expecting it back on its own.
    if (outage === 'gone' && state === 'reconnecting') setText(linkPill, 'Offline');
    if (outage === 'none') {
      if (!banner.classList.contains('ok')) banner.hidden = true;
    } else if (state === 'stopped') {
      showBanner('neutral', 'Berth has stopped.', howToStart(live.status?.startCommand));
    } else if (outage === 'down' && live.cause === 'restarting') {
      showBanner('warn', 'Berth is restarting…', [document.createTextNode('It said it was restarting, and is usually back within moments. What this page shows may be out of date; it catches up by itself.')]);
    } else if (outage === 'down') {
      showBanner('warn', 'Berth stopped responding.', [
        document.createTextNode('It went away without saying so: it may have crashed, or be stuck. This page keeps trying; what it shows may be out of date until Berth answers.'),
      ]);
    } else {
      showBanner('neutral', 'Berth is not running.', howToStart(live.status?.startCommand));
    }
  }

  function showLink(state: LinkState) {
    document.documentElement.dataset.link = state;
    linkPill.className = `link-state link-${state}`;
    setText(linkPill, LINK_LABELS[state]);
    if (state === 'signed-out') showSignedOut();
  }

  live.on('link', showLink);
  live.on('outage', showOutage);
  live.on('link', showTab);
  live.on('outage', showTab);
  live.on('update', showTab);
  live.on('cause', (cause) => {
    if (cause) document.documentElement.dataset.outageCause = cause;
    else delete document.documentElement.dataset.outageCause;
  });
  live.on('status', (s) => {
    setText(version, s.version);
    recovered.show(s);
    try {
      if (s.startCommand) localStorage.setItem(START_KEY, s.startCommand);
      else localStorage.removeItem(START_KEY);
    } catch {
      // storage off: the offline page says it in general words
    }
  });
  showLink(live.state);
  showOutage(live.outage);
  if (arrival.movedFrom) {
    showBanner('ok', 'Berth moved here.', [document.createTextNode(`It now serves ${location.host} (it was on port ${arrival.movedFrom}). Bookmarks and other programs need the new address.`)]);
  }
  window.addEventListener('hashchange', route);
  route();
  live.start();
}

/** A stored start command, or undefined (never heard one): howToStart words each. */
function lastStartCommand(): string | null | undefined {
  try {
    return localStorage.getItem(START_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Berth's own offline page: what a tab shows when it loads while Berth does
 * not answer (a reload during an outage; the service worker kept the shell).
 * It tries again by itself, and opens the console once Berth answers.
 */
function showOffline(retry: () => void, nextTryMs: number): void {
  showTabState('offline', null, ICON);
  const next = `Next try in ${Math.max(1, Math.round(nextTryMs / 1000))} s.`;
  const shown = document.getElementById('offline-next');
  // Drawn once: later tries only update the line below, so focus and reading position stay where they are.
  if (shown) {
    setText(shown, next);
    offlineRetry = retry;
    return;
  }
  offlineRetry = retry;
  const again = h('button', { type: 'button', class: 'button', id: 'offline-retry', onclick: () => offlineRetry() }, 'Try now');
  fill(
    app,
    h('header', { class: 'topbar' }, brand()),
    h(
      'main',
      { id: 'main', class: 'main', tabindex: -1 },
      h(
        'section',
        { class: 'page offline', 'aria-labelledby': 'offline-title' },
        h(
          'article',
          { class: 'card hero' },
          h('h1', { id: 'offline-title', tabindex: -1 }, 'Berth is offline'),
          h('p', { class: 'lead' }, `Berth is not answering at ${location.host}. This page tries again by itself every few seconds and opens the console as soon as Berth is back.`),
          h('p', null, howToStart(lastStartCommand(), '')),
          h('div', { class: 'actions' }, again),
          h('p', { class: 'muted small', id: 'offline-next', role: 'status' }, next),
        ),
      ),
    ),
  );
}
let offlineRetry: () => void = () => undefined;

async function boot(attempt = 0): Promise<void> {
  whenUnauthorized(showSignedOut);
  let timer: number | undefined;
  const retry = () => {
    window.clearTimeout(timer);
    void boot(attempt + 1);
  };
  try {
    const session = await api.session();
    if (!session.authenticated) return showSignedOut();
  } catch {
    // Not answering (stopped, or still starting): say so in plain words and keep asking.
    const wait = Math.min(5000, 500 * (attempt + 1));
    if (attempt === 0) {
      fill(
        app,
        h('header', { class: 'topbar' }, brand()),
        h('main', { id: 'main', class: 'main', tabindex: -1 }, h('p', { class: 'message', role: 'status' }, 'Berth is not answering. This page loads by itself as soon as it is back.')),
      );
      showTabState('reconnecting', null, ICON);
    } else showOffline(retry, wait);
    timer = window.setTimeout(retry, wait);
    return;
  }
  pages = [...berthPages, ...(await appPages().catch(() => []))];
  startShell();
}

// The service worker keeps the console's shell, so a reload while Berth is away shows the page above
// instead of the browser's own error. Browsers allow one on https and on this computer (127.0.0.1, localhost).
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js').catch(() => undefined);
}

void boot();
