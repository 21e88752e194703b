/*
 * Berth's service worker: it keeps the console's shell (the page, its script,
 * styles and icon), so that a tab reloaded while Berth is away shows Berth's
 * own offline page, which tries again by itself, instead of the browser's
 * error page, which never does. It never keeps or answers anything under
 * /api/ or /health: those always go to Berth, or fail.
 *
 * Pages are asked of the network first, so a running Berth always serves its
 * current page (after an update, the new version's); the copy is only for
 * when the network gives no answer at all.
 */
'use strict';

const CACHE_PREFIX = 'berth-shell-';
/** A server that accepts but does not answer within this long is treated as away. */
const NAVIGATION_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(keepShell().catch(() => undefined));
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

/** The page and every file it names (script, styles, icon), in a fresh cache that replaces the older ones. */
async function keepShell(page) {
  const response = page ?? (await fetch('/', { cache: 'no-store', credentials: 'same-origin' }));
  if (!response.ok || !(response.headers.get('content-type') ?? '').includes('text/html')) return;
  const html = await response.clone().text();
  const files = new Set();
  for (const m of html.matchAll(/\s(?:src|href)="([^"]+)"/g)) {
    const url = new URL(m[1], self.location.origin);
    if (url.origin === self.location.origin && !url.pathname.startsWith('/api/')) files.add(url.pathname);
  }
  const name = `${CACHE_PREFIX}${Date.now()}`;
  const cache = await caches.open(name);
  await cache.put('/', response);
  // Files the page loads themselves load more (the script its styles, the styles nothing): one level is the shell.
  for (const path of files) {
    const res = await fetch(path, { cache: 'no-cache' }).catch(() => null);
    if (res && res.ok) await cache.put(path, res);
  }
  for (const key of await caches.keys()) if (key.startsWith(CACHE_PREFIX) && key !== name) await caches.delete(key);
}

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms));
}

async function fromCache(path) {
  for (const key of (await caches.keys()).filter((k) => k.startsWith(CACHE_PREFIX)).sort().reverse()) {
    const hit = await (await caches.open(key)).match(path);
    if (hit) return hit;
  }
  return undefined;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/health' || url.pathname === '/sw.js') return;

  if (request.mode === 'navigate') {
    event.respondWith(
      (async () => {
        try {
          const response = await Promise.race([fetch(request), timeout(NAVIGATION_TIMEOUT_MS)]);
          // The console itself, answered: keep this version of it (after an update, the new one).
          if (response.ok && url.search === '' && (response.headers.get('content-type') ?? '').includes('text/html')) {
            event.waitUntil(keepShell(response.clone()).catch(() => undefined));
          }
          return response;
        } catch {
          const shell = await fromCache('/');
          return shell ?? Response.error();
        }
      })(),
    );
    return;
  }

  // The shell's files: from the network while Berth answers, from the copy when it does not.
  event.respondWith(
    (async () => {
      try {
        return await fetch(request);
      } catch (err) {
        const copy = await fromCache(url.pathname);
        if (copy) return copy;
        throw err;
      }
    })(),
  );
});
