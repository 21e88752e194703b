/**
 * The state hook across a relaunch: Notes carries the numbering of its live
 * events to the next process (state.carry -> state.create's `carried`), so a
 * tab that reconnects with Last-Event-ID after a relaunch misses nothing and
 * sees nothing twice.
 *
 * On a loaded machine the new process can take longer to serve than the
 * default handoff deadline (10 s), and then the old process keeps serving:
 * the test gives the relaunch a deadline of its own, takes its outcome from
 * the relaunch's answer and asks for the resumed events only of the new
 * process, within a bound.
 */
import { beforeAll, expect, it } from 'vitest';
import { prepareExample } from '../../soak/lib/examples.mjs';
import { health } from '../helpers';
import { newInstance, servedNotes } from './fixtures';

beforeAll(() => prepareExample('notes'), 120_000);

/** The event stream's first event after `lastEventId`: its id and data. */
async function nextEvent(port: number, token: string, lastEventId: number): Promise<{ id: number; data: { text: string } }> {
  const signal = AbortSignal.timeout(30_000);
  const res = await fetch(`http://127.0.0.1:${port}/api/notes/events`, { headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': String(lastEventId) }, signal });
  const reader = res.body!.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read().catch((err: Error) => {
      throw new Error(`no event after ${lastEventId} within 30 s (${err.message}); the stream said: ${JSON.stringify(text)}`);
    });
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
  const { port, token, pids, stop } = await servedNotes('berth-carry-');
  try {
    const post = (text: string) => fetch(`http://127.0.0.1:${port}/api/notes`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ text }) });
    await post('one');
    await post('two');
    expect(await nextEvent(port, token, 1)).toMatchObject({ id: 2, data: { text: 'two' } });
    const before = (await health(port))!;
    expect((await fetch(`http://127.0.0.1:${port}/api/relaunch`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    // 200: the new process serves (the `notes serve` started here stays, waiting on it: app/cli/foreground.ts).
    const after = await newInstance(port, before);
    expect(after.instance).not.toBe(before.instance);
    pids.add(after.pid);
    await post('three');
    // Numbered on from the old process: a tab that had seen 2 gets 3, from the new process.
    expect(await nextEvent(port, token, 2)).toMatchObject({ id: 3, data: { text: 'three' } });
  } finally {
    await stop();
  }
}, 120_000);
