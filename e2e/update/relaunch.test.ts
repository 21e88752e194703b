/**
 * Self-update end to end on Linux: real `berth serve` processes, electron-
 * updater's real AppImageUpdater and NsisUpdater, a real update server, and the
 * port watched from outside the whole time.
 *
 * AppImage runs: the installed app is a real AppImage of version N, built by
 * electron-builder under its default name (Berth-N-linux-x86_64.AppImage); the
 * update server offers the AppImage and latest-linux.yml electron-builder wrote
 * for N+1, and electron-updater downloads only the blocks that changed. NSIS
 * runs: a launcher starts Berth N, and a stand-in installer (see rig.mjs)
 * installs N+1 in NSIS's order.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
// Plain ES modules shared with bench/update.mjs.
import { createRig, handoffGaps, healthOnce, instanceOrder, startLoad, startPoller, timeWaitCount, waitFor } from '../../test/update/fixtures/rig.mjs';
import { running } from '../../test/update/fixtures/installed-app.mjs';
import { buildProblem, buildReleases } from '../../test/update/fixtures/artifacts.mjs';

interface Health {
  version: string;
  instance: string;
  pid: number;
  state: string;
  startedAt: string;
}
type Rig = Awaited<ReturnType<typeof createRig>>;

const rigs: Rig[] = [];
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!().catch(() => undefined);
  for (const r of rigs.splice(0)) await r.close();
});
async function rig(kind: 'appimage' | 'nsis' | 'mac', opts: { stageMs?: number; guardAllowanceMs?: number } = {}): Promise<Rig> {
  const r = await createRig({ kind, ...opts });
  rigs.push(r);
  return r;
}
const versions = (n: number) => Array.from({ length: n }, (_, i) => `1.0.${i}`);

function assertOneServerAtATime(records: [number, string | null, string | null, number | null][], expectedInstances: number) {
  const { order, violations } = instanceOrder(records);
  expect(violations, 'an older instance answered after a newer one: two servers at once').toEqual([]);
  expect(order.length).toBe(expectedInstances);
}

const problem = process.platform !== 'linux' ? 'Linux only' : buildProblem('appimage');

describe.skipIf(problem)(`self-update onto the same port (Linux)${problem ? ` (skipped: ${problem})` : ''}`, () => {
  // Eleven releases, built once by electron-builder (cached for the next run): about a minute each on a loaded 2-core machine.
  beforeAll(() => buildReleases('appimage', versions(11)), 1_200_000);

  it('AppImage: 10 updates in a row under keep-alive load, TIME_WAIT piling up, one server at every moment', async () => {
    const r = await rig('appimage');
    const [first, ...next] = versions(11);
    let current = (await r.start(first!)) as Health;
    const started = current;
    const poller = startPoller(r.port, 2);
    stops.push(() => poller.stop());
    const load = startLoad(r.port, r.token, { keepalive: 4, 'keepalive-pause-ms': 1, fresh: 1, 'fresh-pause-ms': 2 });
    stops.push(() => load.stop());
    await load.ready;
    // The point of the exercise: every handoff happens with thousands of sockets in TIME_WAIT on the port.
    // How fast they pile up follows the CPU the load generator gets: on a loaded 2-core machine, minutes.
    await waitFor(() => timeWaitCount(r.port) >= 1500, 'thousands of sockets in TIME_WAIT on the port', 180_000, 100);

    // A bad release first: its download fails the checksum and the running version is untouched.
    await r.publish('1.0.1', { tamper: true });
    expect((await r.api('POST', '/api/update/check')).status).toBe(202);
    const bad = await waitFor(async () => {
      const s = (await r.api('GET', '/api/update')).body;
      return s.state === 'error' ? s : null;
    }, 'the tampered download to be rejected');
    expect(bad.error).toContain('did not match its published sha512 checksum');
    expect(await healthOnce(r.port)).toMatchObject({ instance: current.instance, version: first, state: 'serving' });

    let peakTimeWait = 0;
    for (const version of next) {
      const { before, after } = (await r.cycle(version)) as { before: Health; after: Health };
      expect(before.instance).toBe(current.instance);
      expect(after).toMatchObject({ version, state: 'serving' });
      expect(after.instance).not.toBe(before.instance);
      expect(after.pid).not.toBe(before.pid);
      // The process that was started waits for the Berth serving now (app/cli/foreground.ts); every other one has gone.
      if (before.pid === started.pid) expect(running(before.pid), `started pid ${before.pid} waits`).toBe(true);
      else expect(running(before.pid), `old pid ${before.pid} gone`).toBe(false);
      // The new version knows whom it replaced: the handoff rode in the installer's environment.
      const status = (await r.api('GET', '/api/status')).body;
      expect(status.handoffFrom).toBe(before.instance);
      expect((await r.api('GET', '/api/update')).body).toMatchObject({ state: 'idle', currentVersion: version });
      peakTimeWait = Math.max(peakTimeWait, timeWaitCount(r.port));
      current = after;
    }

    const records = await poller.stop();
    const summary = await load.stop();
    assertOneServerAtATime(records, 11);
    const gaps = handoffGaps(records).map((g: { ms: number }) => Math.round(g.ms));
    console.log(
      `AppImage updates: handoff gaps ${gaps.join(', ')} ms; TIME_WAIT on port peaked at ${peakTimeWait}; ` +
        `load: ${summary.requests} requests, ${summary.acknowledged} acknowledged, ${summary.lost} lost, ${summary.retries} retried (${JSON.stringify(summary.failures)})`,
    );
    expect(summary.lost, `acknowledged requests that broke off: ${JSON.stringify(summary.lostDetail)}`).toBe(0);
    expect(summary.completed).toBeGreaterThan(1000);
    expect(peakTimeWait, 'sockets in TIME_WAIT on the port').toBeGreaterThan(1000);
    const logs = r.logText();
    expect(logs).not.toMatch(/EADDRINUSE/);
    expect(logs).not.toMatch(/relaunch failed|serving again/);
    // Each update wrote the new version under its own name and removed the old file.
    expect(fs.readdirSync(path.dirname(r.installed!))).toEqual(['Berth-1.0.10-linux-x86_64.AppImage']);
  }, 360_000);

  it('NSIS order: the installer starts the new version only after the old one has exited by itself', async () => {
    const r = await rig('nsis');
    const [first, ...next] = versions(4);
    let current = (await r.start(first!)) as Health;
    const poller = startPoller(r.port, 2);
    stops.push(() => poller.stop());
    const load = startLoad(r.port, r.token, { keepalive: 2, 'keepalive-pause-ms': 2, fresh: 1, 'fresh-pause-ms': 3 });
    stops.push(() => load.stop());
    await load.ready;

    for (const version of next) {
      const { before, after } = (await r.cycle(version)) as { before: Health; after: Health };
      expect(before.instance).toBe(current.instance);
      expect(after).toMatchObject({ version, state: 'serving' });
      expect(after.instance).not.toBe(before.instance);
      expect(running(before.pid), `old pid ${before.pid} gone`).toBe(false);
      // The installer started it with a clean environment: it knew whom it replaced from the note in the data directory.
      expect((await r.api('GET', '/api/status')).body.handoffFrom).toBe(before.instance);
      current = after;
    }
    const records = await poller.stop();
    const summary = await load.stop();
    assertOneServerAtATime(records, 4);
    expect(summary.lost, JSON.stringify(summary.lostDetail)).toBe(0);
    const installer = fs.readFileSync(path.join(r.logsDir, 'installer.log'), 'utf8');
    // NSIS kills an app that is still running after about 1.3 s: Berth must never need that.
    expect(installer).not.toContain('killing it');
    expect(installer.match(/the app has exited; installing/g)?.length).toBe(3);
    expect(installer).toContain('started with --updated /S --force-run');
    const logs = r.logText();
    expect(logs).not.toMatch(/EADDRINUSE/);
    console.log(`NSIS-order updates: handoff gaps ${handoffGaps(records).map((g: { ms: number }) => Math.round(g.ms)).join(', ')} ms`);
  }, 120_000);

  it('macOS order: Squirrel.Mac stages the update while the old version serves; then it quits, and the new one starts', async () => {
    const r = await rig('mac', { stageMs: 1500 });
    const [first, ...next] = versions(3);
    let current = (await r.start(first!)) as Health;
    const poller = startPoller(r.port, 2);
    stops.push(() => poller.stop());
    for (const version of next) {
      const staged = path.join(r.dataDir, 'squirrel-staged');
      await r.publish(version);
      await r.ready(version);
      expect((await r.api('POST', '/api/update/install')).status).toBe(202);
      // While Squirrel.Mac stages the update (1.5 s here), the old version serves: staging is not downtime.
      await waitFor(() => fs.existsSync(`${staged}.part`), 'Squirrel.Mac to start staging the update', 20_000, 5);
      expect(await healthOnce(r.port)).toMatchObject({ instance: current.instance, state: 'serving' });
      const after = (await waitFor(async () => {
        const h = await healthOnce(r.port);
        return h?.version === version ? h : null;
      }, `${version} to serve`, 30_000, 5)) as Health;
      await waitFor(() => !running(current.pid), `the old process (pid ${current.pid}) to exit`, 15_000);
      expect((await r.api('GET', '/api/status')).body.handoffFrom).toBe(current.instance);
      current = after;
    }
    const records = await poller.stop();
    assertOneServerAtATime(records, 3);
    const logs = r.logText();
    expect(logs).toMatch(/Squirrel\.Mac stand-in: staged/);
    expect(logs).not.toMatch(/EADDRINUSE|did not quit the app/);
    console.log(`macOS-order updates (staging 1.5 s while serving): handoff gaps ${handoffGaps(records).map((g: { ms: number }) => Math.round(g.ms)).join(', ')} ms`);
  }, 120_000);

  for (const kind of ['nsis', 'mac'] as const) {
    it(`${kind === 'nsis' ? 'NSIS: the installer starts, then fails' : 'macOS: Squirrel.Mac\'s swap fails after the quit'}: the guardian starts the installed version, which says the update failed`, async () => {
      const r = await rig(kind, { guardAllowanceMs: 3000 });
      const before = (await r.start('1.0.0')) as Health;
      const poller = startPoller(r.port, 5);
      stops.push(() => poller.stop());
      const { after } = (await r.failedCycle('1.0.1')) as { after: Health };
      expect(after).toMatchObject({ version: '1.0.0', state: 'serving' });
      expect(after.instance).not.toBe(before.instance);
      expect(running(before.pid)).toBe(false);
      const history = (await r.api('GET', '/api/status')).body.history as { kind: string; detail?: string }[];
      expect(history.filter((e) => e.kind === 'recovered').map((e) => e.detail)).toEqual([
        kind === 'nsis'
          ? 'The update to 1.0.1 failed (no Berth served within 3 s after the installer finished); Berth 1.0.0 is running.'
          : 'The update to 1.0.1 failed (no Berth served within 3 s); Berth 1.0.0 is running.',
      ]);
      assertOneServerAtATime(await poller.stop(), 2);
      // The guardian has ended and left nothing behind.
      await waitFor(() => !fs.existsSync(path.join(r.dataDir, 'guardian')) || fs.readdirSync(path.join(r.dataDir, 'guardian')).length === 0, 'the guardian records to go', 30_000);
    }, 120_000);
  }

  it('an install while a restart blocker is active waits for it, and the acknowledged save survives the update', async () => {
    const r = await rig('appimage');
    const before = (await r.start('1.0.0')) as Health;
    const poller = startPoller(r.port, 2);
    stops.push(() => poller.stop());
    await r.publish('1.0.1');
    await r.ready('1.0.1');

    // A settings save whose body is still arriving: accepted by 1.0.0, not finished.
    const saved = { update: { channel: 'latest', autoCheck: false, url: r.server.url, allowPrerelease: false } };
    const body = JSON.stringify(saved);
    const sock = net.connect({ host: '127.0.0.1', port: r.port });
    await new Promise((res) => sock.once('connect', res));
    let reply = '';
    sock.on('data', (d) => (reply += d));
    sock.write(
      `PUT /api/settings HTTP/1.1\r\nHost: 127.0.0.1:${r.port}\r\nAuthorization: Bearer ${r.token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((res) => setTimeout(res, 100));

    expect((await r.api('POST', '/api/update/install')).status).toBe(202);
    const waiting = await waitFor(async () => {
      const s = (await r.api('GET', '/api/update')).body;
      return s.state === 'installing' && s.blockers.length ? s : null;
    }, 'the install to report what it waits for');
    expect(waiting).toMatchObject({ version: '1.0.1', blockers: ['PUT /api/settings'] });
    await new Promise((res) => setTimeout(res, 1000));
    expect(await healthOnce(r.port)).toMatchObject({ instance: before.instance, state: 'serving' });

    sock.end(body.slice(5));
    const after = (await waitFor(async () => {
      const h = await healthOnce(r.port);
      return h?.version === '1.0.1' ? h : null;
    }, '1.0.1 to serve')) as Health;
    await waitFor(() => reply.endsWith('}'), 'the whole settings response');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    // The new version reads what the old one saved.
    expect((await r.api('GET', '/api/settings')).body.settings.update.url).toBe(r.server.url);
    expect(after.instance).not.toBe(before.instance);
    assertOneServerAtATime(await poller.stop(), 2);
    const logs = r.logText();
    expect(logs).toMatch(/restart blockers cleared after \d+ ms; installing 1\.0\.1/);
    expect(logs).not.toMatch(/EADDRINUSE/);
  }, 120_000);
});
