/**
 * The /api/events fan-out (app/server/fanout.ts) against a real `berth
 * serve`: many pages at once cost one listener on each source, not one per
 * page, so Node never warns of a leak (MaxListenersExceededWarning at the
 * 11th page before), and every page still gets every event: the status and
 * update state at once, each log line, and `draining` when Berth goes away.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killBerth, readToken, startServe, tempDataDir, waitFor, type BerthProcess } from '../helpers';

interface Page {
  events: string[];
  req: http.ClientRequest;
  closed: boolean;
}

/** A page's event stream: the names of the events it received, in order. */
function openStream(port: number, token: string): Page {
  const page: Page = { events: [], req: null as unknown as http.ClientRequest, closed: false };
  page.req = http.get({ host: '127.0.0.1', port, path: '/api/events', agent: false, headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const m = /^event: (\S+)$/m.exec(buf.slice(0, end));
        if (m) page.events.push(m[1]!);
        buf = buf.slice(end + 2);
      }
    });
    res.once('close', () => (page.closed = true));
  });
  page.req.once('error', () => (page.closed = true));
  return page;
}

const PAGES = 40;

describe('/api/events with many pages', () => {
  let berth: BerthProcess;
  let port: number;
  let token: string;
  beforeAll(async () => {
    port = await freePort();
    const dataDir = tempDataDir();
    berth = await startServe(port, dataDir);
    token = readToken(dataDir);
  });
  afterAll(() => killBerth(berth));

  it(`${PAGES} pages: no listener-leak warning, and each page gets its status, the update state, every log line and draining`, async () => {
    const pages = Array.from({ length: PAGES }, () => openStream(port, token));
    await waitFor(() => pages.every((p) => p.events.includes('status') && p.events.includes('update')), `all ${PAGES} pages to get the first status and update state`);

    // Some leave, and come back: what they held is let go of.
    for (const p of pages.slice(0, 10)) p.req.destroy();
    await waitFor(() => pages.slice(0, 10).every((p) => p.closed), 'ten pages to close');
    const back = Array.from({ length: 10 }, () => openStream(port, token));
    const open = [...pages.slice(10), ...back];
    await waitFor(() => back.every((p) => p.events.includes('status') && p.events.includes('update')), 'the ten new pages to get the status and update state');

    // A request without the token is refused and logged at warn: one log line, sent to every open page.
    expect((await fetch(`http://127.0.0.1:${port}/api/status`)).status).toBe(401);
    await waitFor(() => open.every((p) => p.events.includes('log')), 'every open page to get the log line');

    berth.child.kill('SIGTERM');
    await waitFor(() => open.every((p) => p.events.includes('draining') && p.closed), 'every open page to hear draining and be closed');
    await berth.exited;
    expect(pages.slice(0, 10).every((p) => !p.events.includes('draining'))).toBe(true);
    expect(berth.stderr()).not.toMatch(/MaxListenersExceeded|memory leak/i);
  });
});
