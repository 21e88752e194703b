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

const LINK_LABELS: Record<LinkState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  stopped: 'Stopped',
  'signed-out': 'Signed out',
};

const app = document.getElementById('app')!;

function brand(version?: HTMLElement) {
  return h(
    'div',
    { class: 'brand' },
    h('img', { src: new URL('../../build/source/icon.svg', import.meta.url).href, alt: '', width: 28, height: 28 }),
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
  function route() {
    const page = pageFromHash();
    view?.dispose?.();
    view = page.render({ live, confirm: confirmAction });
    fill(main, view.root);
    for (const a of links) {
      if (a.dataset.page === page.id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `${page.title} · Berth`;
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
    } else if (outage === 'down') {
      showBanner('warn', 'Reconnecting…', [document.createTextNode('Berth is restarting or cannot be reached. What this page shows may be out of date; it catches up by itself.')]);
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
  live.on('status', (s) => {
    setText(version, s.version);
    recovered.show(s);
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

async function boot(attempt = 0): Promise<void> {
  whenUnauthorized(showSignedOut);
  try {
    const session = await api.session();
    if (!session.authenticated) return showSignedOut();
  } catch {
    // Not answering (stopped, or still starting): say so in plain words and keep asking.
    if (attempt === 0) {
      fill(
        app,
        h('header', { class: 'topbar' }, brand()),
        h('main', { id: 'main', class: 'main', tabindex: -1 }, h('p', { class: 'message', role: 'status' }, 'Berth is not answering. This page loads by itself as soon as it is back.')),
      );
    }
    window.setTimeout(() => void boot(attempt + 1), Math.min(5000, 500 * (attempt + 1)));
    return;
  }
  pages = [...berthPages, ...(await appPages().catch(() => []))];
  startShell();
}

void boot();
