/**
 * The AppImage as a person runs it, on a machine as it comes: started with
 * no arguments (a double-click), with Ubuntu 24.04's restriction on user
 * namespaces left as it is. It must serve, show its window, and come back
 * from Restart app (the image file started again from outside its mount).
 *
 * BERTH_APPIMAGE names the image (the CI workflow's desktop-linux job builds
 * it with the release configuration, fuses and all). Without it the test is
 * skipped with one line. BERTH_DESKTOP_ARTIFACTS: where the screenshot,
 * Berth's log and Electron's stderr go, pass or fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, freePort, health, readToken, tempDataDir, waitFor } from '../../test/helpers';
import { canListen } from '../../main/startup';
import { userNamespacesRestricted } from '../../main/sandbox';

const image = process.env.BERTH_APPIMAGE || null;
const reason = !image ? 'BERTH_APPIMAGE is not set' : process.platform !== 'linux' ? 'AppImages are Linux only' : !fs.existsSync(image) ? `BERTH_APPIMAGE names ${image}, which does not exist` : null;
if (reason) {
  if (process.env.BERTH_REQUIRE_APPIMAGE === '1') throw new Error(`e2e/desktop/appimage: BERTH_REQUIRE_APPIMAGE=1 but ${reason}`);
  console.log(`e2e/desktop/appimage: skipped, ${reason}. It needs a built AppImage (npx electron-builder --config electron-builder.config.js --linux AppImage), FUSE 2 and a display.`);
}

const artifacts = process.env.BERTH_DESKTOP_ARTIFACTS ? path.join(process.env.BERTH_DESKTOP_ARTIFACTS, 'linux', 'appimage') : null;
const dataDir = tempDataDir('berth-appimage-e2e-');
const children: ChildProcess[] = [];
const pids = new Set<number>();
let stderr = '';

afterAll(async () => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
  for (const pid of pids) await waitFor(() => !alive(pid), `pid ${pid} to exit`).catch(() => undefined);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (!artifacts) return;
  fs.mkdirSync(artifacts, { recursive: true });
  fs.writeFileSync(path.join(artifacts, 'electron-stderr.txt'), stderr);
  const log = path.join(dataDir, 'logs', 'berth.log');
  if (fs.existsSync(log)) fs.copyFileSync(log, path.join(artifacts, 'berth.log'));
});

/** The whole screen, as the person would see it (ImageMagick's import, where it is installed). */
function screenshot(name: string): void {
  if (!artifacts || !process.env.DISPLAY) return;
  fs.mkdirSync(artifacts, { recursive: true });
  spawnSync('import', ['-window', 'root', path.join(artifacts, `${name}.png`)], { timeout: 20_000 });
}

const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
const mountOf = (pid: number) => /^(\/tmp\/\.mount_[^/]+)\//.exec(fs.readlinkSync(`/proc/${pid}/exe`))?.[1] ?? null;
const logText = () => fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8');

describe.skipIf(!!reason)('the AppImage on this machine as it is', () => {
  const restricted = userNamespacesRestricted();

  it(`starts from a double-click (user namespaces ${restricted ? 'restricted: it runs without the sandbox' : 'allowed: it keeps the sandbox'}), then comes back from Restart app on the same port`, async () => {
    const port = await freePort();
    console.log(`appimage e2e: kernel.apparmor_restrict_unprivileged_userns restricts user namespaces here: ${restricted}`);
    const env: NodeJS.ProcessEnv = { ...process.env, BERTH_DATA_DIR: dataDir, BERTH_PORT: String(port) };
    for (const k of Object.keys(env)) if (k.startsWith('BERTH_') && !['BERTH_DATA_DIR', 'BERTH_PORT'].includes(k)) delete env[k];
    const first = spawn(image!, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(first);
    first.stdout!.on('data', (d: Buffer) => (stderr += d.toString()));
    first.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => first.once('exit', (c) => resolve(c)));
    const served = await Promise.race([
      waitFor(async () => ((await health(port))?.state === 'serving' ? health(port) : null), 'the AppImage to serve', 90_000),
      exited.then((code) => {
        throw new Error(`the AppImage exited with code ${code} before serving:\n${stderr.slice(-4000)}`);
      }),
    ]);
    const before = served!;
    pids.add(before.pid);
    await waitFor(() => /ready on /.test(logText()), 'the ready line in the log');
    screenshot('started');
    // AppRun decided about the sandbox: without it exactly where user namespaces are restricted.
    expect(cmdline(before.pid).includes('--no-sandbox')).toBe(restricted);
    const firstMount = mountOf(before.pid);
    expect(firstMount).not.toBeNull();

    const token = readToken(dataDir);
    const res = await fetch(`http://127.0.0.1:${port}/api/relaunch`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(202);
    const after = await waitFor(async () => {
      const h = await health(port);
      return h && h.instance !== before.instance && h.state === 'serving' ? h : null;
    }, 'the image started again to serve the same port', 90_000);
    pids.add(after.pid);
    await waitFor(() => !alive(before.pid), 'the first process to exit', 30_000);
    // The successor runs from a mount of its own, with Berth's own flags and the sandbox decision again.
    expect(mountOf(after.pid)).not.toBe(firstMount);
    const args = cmdline(after.pid).slice(1);
    expect(args.includes('--no-sandbox')).toBe(restricted);
    expect(args.filter((a) => a !== '--no-sandbox' && !a.startsWith('--handoff') && !a.startsWith('--host=') && !a.startsWith('--port='))).toEqual([]);
    await waitFor(() => logText().split('\n').filter((l) => l.includes('ready on ')).length >= 2, 'the successor to say it is ready');
    screenshot('after-restart');

    const stop = await fetch(`http://127.0.0.1:${port}/api/stop`, { method: 'POST', headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
    expect(stop.status).toBe(202);
    await waitFor(() => !alive(after.pid), 'the successor to exit', 30_000);
    expect(await canListen('127.0.0.1', port)).toBe(true);
  });
});
