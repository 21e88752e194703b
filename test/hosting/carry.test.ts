/**
 * The state hook across a relaunch: Notes carries the numbering of its live
 * events to the next process (state.carry -> state.create's `carried`), so a
 * tab that reconnects with Last-Event-ID after a relaunch misses nothing and
 * sees nothing twice.
 */
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { EXAMPLES, prepareExample } from '../../soak/lib/examples.mjs';
import { freePort, health, killBerth, readToken, tempDataDir, waitFor } from '../helpers';
import { spawn } from 'node:child_process';

beforeAll(() => prepareExample('notes'), 120_000);

/** The event stream's first event after `lastEventId`: its id and data. */
async function nextEvent(port: number, token: string, lastEventId: number): Promise<{ id: number; data: { text: string } }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/notes/events`, { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': String(lastEventId) } });
  const reader = res.body!.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended: ${text}`);
    text += new TextDecoder().decode(value);
    const m = /id: (\d+)\nevent: saved\ndata: (.*)\n\n/.exec(text);
    if (m) {
      await reader.cancel();
      return { id: Number(m[1]), data: JSON.parse(m[2]!) };
    }
  }
}

it('Notes carries its event numbering across a relaunch: Last-Event-ID resumes in the new process', async () => {
  const port = await freePort();
  const dataDir = tempDataDir('berth-carry-');
  const ex = EXAMPLES.notes;
  const child = spawn(process.execPath, [path.join(ex.dir, ex.cli), 'serve', '--json', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const pids = new Set<number>();
  try {
    await waitFor(() => out.includes('"event":"serving"'), 'Notes to serve', 30_000);
    const token = readToken(dataDir);
    const post = (text: string) => fetch(`http://127.0.0.1:${port}/api/notes`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ text }) });
    await post('one');
    await post('two');
    expect(await nextEvent(port, token, 1)).toMatchObject({ id: 2, data: { text: 'two' } });
    const before = (await health(port))!;
    expect((await fetch(`http://127.0.0.1:${port}/api/relaunch`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })).status).toBe(202);
    const after = await waitFor(async () => {
      const h = await health(port);
      return h && h.instance !== before.instance ? h : null;
    }, 'the new process', 30_000);
    pids.add(after.pid);
    await post('three');
    // Numbered on from the old process: a tab that had seen 2 gets 3, from the new process.
    expect(await nextEvent(port, token, 2)).toMatchObject({ id: 3, data: { text: 'three' } });
  } finally {
    await fetch(`http://127.0.0.1:${port}/api/stop`, { method: 'POST', headers: { Authorization: `Bearer ${readToken(dataDir)}` } }).catch(() => undefined);
    await killBerth({ child, exited });
    for (const pid of pids) await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'the relaunched Notes to exit', 15_000).catch(() => process.kill(pid, 'SIGKILL'));
  }
}, 120_000);
