/**
 * The shell: checks the session, then draws the header, the navigation and
 * the current page, and keeps one LiveLink (the event stream) for all pages.
 */
import './styles/app.css';
import { api, whenUnauthorized } from './api';
import { confirmAction } from './dialog';
import { fill, h, setText } from './dom';
import { LiveLink, type LinkState } from './live';
import { pages } from './pages/index';
import type { Page, PageView } from './pages/page';
import { signedOutView } from './signed-out';

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

function showSignedOut(): void {
  document.documentElement.dataset.link = 'signed-out';
  document.title = 'Berth: open it from the app';
  fill(app, h('header', { class: 'topbar' }, brand()), h('main', { id: 'main', class: 'main', tabindex: -1 }, signedOutView()));
}

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
  fill(app, skip, h('header', { class: 'topbar' }, brand(version), nav, linkPill), banner, main);

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

  function showLink(state: LinkState) {
    document.documentElement.dataset.link = state;
    linkPill.className = `link-state link-${state}`;
    setText(linkPill, LINK_LABELS[state]);
    const title = banner.querySelector('.banner-title')!;
    const detail = banner.querySelector('.banner-detail')!;
    if (state === 'reconnecting') {
      setText(title, 'Reconnecting…');
      setText(detail, 'Berth is restarting or cannot be reached. This page keeps trying and catches up by itself.');
      banner.className = 'banner warn';
      banner.hidden = false;
    } else if (state === 'stopped') {
      setText(title, 'Berth has stopped.');
      fill(detail, 'Start it again from your applications menu or with ', h('code', null, 'berth serve'), '; this page reconnects when it is back.');
      banner.className = 'banner neutral';
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    if (state === 'signed-out') showSignedOut();
  }

  live.on('link', showLink);
  live.on('status', (s) => setText(version, s.version));
  showLink(live.state);
  window.addEventListener('hashchange', route);
  route();
  live.start();
}

async function boot(): Promise<void> {
  whenUnauthorized(showSignedOut);
  try {
    const session = await api.session();
    if (!session.authenticated) return showSignedOut();
  } catch (err) {
    fill(app, h('main', { class: 'main' }, h('p', { class: 'message error', role: 'alert' }, `Berth did not answer: ${String(err)}. Reload this page to try again.`)));
    return;
  }
  startShell();
}

void boot();
