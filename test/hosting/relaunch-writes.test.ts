/**
 * No acknowledged write is lost across a relaunch: Notes is sent new notes
 * without a pause, on keep-alive and new connections, while it relaunches.
 * Every note answered 200 must be served by the process that survives and
 * be in its notes.json, and no request may fail. (The old process loads no
 * notes after the new one read notes.json; a note it took after that would
 * be gone at the new process's next save.)
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { prepareExample } from '../../soak/lib/examples.mjs';
import { health, waitFor } from '../helpers';
import { newInstance, servedNotes } from './fixtures';

beforeAll(() => prepareExample('notes'), 120_000);

interface Posted {
  status: number;
  body: string;
}

function post(port: number, token: string, text: string, agent: http.Agent | false): Promise<Posted> {
  const body = JSON.stringify({ text });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/api/notes', method: 'POST', agent, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

it('every note acknowledged while Notes relaunches is served by the new process and kept in notes.json', async () => {
  const { port, dataDir, token, pids, stop } = await servedNotes('berth-relaunch-writes-');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  try {
    const acknowledged = new Map<string, string>();
    const failures: string[] = [];
    let sent = 0;
    let writing = true;
    let relaunching = false;
    // The notes sent while the relaunch ran (from its request to its answer).
    const sentDuring = new Set<string>();
    // Three writers on keep-alive connections (they stay on the old process through the handover) and one on new connections.
    const writer = async (name: string, via: http.Agent | false) => {
      for (let i = 0; writing; i++) {
        const text = `${name}-${i}`;
        sent++;
        if (relaunching) sentDuring.add(text);
        try {
          const r = await post(port, token, text, via);
          if (r.status === 200) acknowledged.set((JSON.parse(r.body) as { id: string }).id, text);
          else failures.push(`${text}: ${r.status} ${r.body.slice(0, 200)}`);
        } catch (err) {
          failures.push(`${text}: ${(err as Error).message}`);
        }
      }
    };
    const writers = [writer('a', agent), writer('b', agent), writer('c', agent), writer('fresh', false)];
    await waitFor(() => acknowledged.size >= 20, 'the first notes to be saved', 30_000);
    const before = (await health(port))!;
    relaunching = true;
    // Answered with the relaunch's outcome (200 once the new process serves).
    expect((await fetch(`http://127.0.0.1:${port}/api/relaunch`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    relaunching = false;
    // 200: the new process serves (the `notes serve` started here stays, waiting on it: app/cli/foreground.ts).
    const after = await newInstance(port, before);
    expect(after.instance).not.toBe(before.instance);
    pids.add(before.pid);
    pids.add(after.pid);
    // Writes go on in the new process for a while, so that it saves notes.json after the old process is gone.
    const atExit = acknowledged.size;
    await waitFor(() => acknowledged.size >= atExit + 20, 'notes saved by the new process', 30_000);
    writing = false;
    await Promise.all(writers);

    const served = (await (await fetch(`http://127.0.0.1:${port}/api/notes`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { notes: { id: string; text: string }[] };
    const servedById = new Map(served.notes.map((n) => [n.id, n.text]));
    const onDisk = new Map((JSON.parse(fs.readFileSync(path.join(dataDir, 'notes.json'), 'utf8')) as { id: string; text: string }[]).map((n) => [n.id, n.text]));
    const missingServed = [...acknowledged].filter(([id, text]) => servedById.get(id) !== text).map(([, text]) => text);
    const missingOnDisk = [...acknowledged].filter(([id, text]) => onDisk.get(id) !== text).map(([, text]) => text);
    // The writers went on through the relaunch (else this proves nothing).
    const duringRelaunch = [...acknowledged.values()].filter((t) => sentDuring.has(t)).length;
    expect(duringRelaunch).toBeGreaterThan(0);
    const held = /(\d+) request\(s\) to the app held during the relaunch/.exec(fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8'))?.[1] ?? '0';
    console.info(`relaunch-writes: ${acknowledged.size} of ${sent} acknowledged, ${duringRelaunch} sent during the relaunch, ${held} held and passed on`);
    expect({ failures, missingServed, missingOnDisk }, `${acknowledged.size} of ${sent} notes acknowledged, ${duringRelaunch} sent while it relaunched`).toEqual({ failures: [], missingServed: [], missingOnDisk: [] });
  } finally {
    agent.destroy();
    await stop();
  }
}, 180_000);
