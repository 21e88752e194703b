/**
 * The Logs page reads the log file, which is written asynchronously: a line
 * logged just before a page of the log is asked for must be on that page
 * (after an in-place restart the console reloads at once, and the line that
 * says so reached no event stream).
 */
import Fastify from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { createLogSink, type LogSink } from '../../app/log';
import { logRoutes } from '../../app/logs/routes';
import type { RouteContext } from '../../app/server/web';
import { tempDataDir } from '../helpers';
import path from 'node:path';

const opened: LogSink[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function serverWithLog() {
  const logs = createLogSink({ dir: path.join(tempDataDir(), 'logs') });
  opened.push(logs);
  const app = Fastify();
  const ctx = { requireToken: async () => undefined, onDrain: () => undefined, signedIn: () => true, log: logs.root } as unknown as RouteContext;
  logRoutes({ logs })(app, ctx);
  await app.ready();
  return { logs, app };
}

describe('a page of the log has every line logged before it was asked for', () => {
  test('GET /logs, 40 times a line then the page at once', async () => {
    const { logs, app } = await serverWithLog();
    let missing = 0;
    for (let i = 0; i < 40; i++) {
      logs.root.info(`line number ${i}`);
      const page = (await app.inject({ method: 'GET', url: '/logs?limit=5' })).json() as { entries: { msg: string }[] };
      if (page.entries[0]?.msg !== `line number ${i}`) missing++;
    }
    expect(missing).toBe(0);
    await app.close();
  });

  test('GET /logs/download (JSON lines), right after a line', async () => {
    const { logs, app } = await serverWithLog();
    let missing = 0;
    for (let i = 0; i < 40; i++) {
      logs.root.info(`download line ${i}`);
      const text = (await app.inject({ method: 'GET', url: '/logs/download?format=json' })).body;
      if (!text.includes(`download line ${i}"`)) missing++;
    }
    expect(missing).toBe(0);
    await app.close();
  });
});
