/**
 * AppImage installs as transactions: the installed version N stays on disk
 * until N+1 has served, and every failure leaves N where it was, named by
 * APPIMAGE and by the launch-at-login entry. Berth 1.0.0 is a real AppImage
 * built by electron-builder (fixtures/artifacts.mjs); what is published is
 * either the real 1.0.1 or a stand-in that crashes when it starts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers';
import { composed, health, ready, servingVersion, type Setup } from './composed';
import { appImageBuildProblem, appImageBytes, appImageName, launchAtLoginEntry, makeRig, sameBytes, smallFilesystem, tempDir, updateSuite, type UpdateServer } from './support';

const { builds: B, cleanups, server } = updateSuite('1.0.0', '1.0.1');



/** Berth 1.0.0 (the real AppImage) serving, with `publish` deciding what the feed offers as 1.0.1. */
async function setup(publish: (srv: UpdateServer) => void, o: { installDir?: string } = {}): Promise<Setup> {
  const srv = await server();
  publish(srv);
  return composed(srv, cleanups, {
    handoffDeadline: 30_000,
    rigFor: ({ port, dataDir, logs, hooks }) =>
      makeRig({ version: '1.0.0', port, dataDir, logs, hooks, feedUrl: srv.url, installed: B['1.0.0']!, installDir: o.installDir }),
  });
}

describe.skipIf(appImageBuildProblem)(`AppImage installs are transactions${appImageBuildProblem ? ` (skipped: ${appImageBuildProblem})` : ''}`, () => {
  it('N+1 crashes as it starts: N serves on, its file, APPIMAGE and launch at login still name it, and Restart to update runs the install again', async () => {
    const marker = path.join(tempDir(), 'starts');
    // What a broken release does: it starts, and exits with an error before serving.
    const crashing = appImageBytes('1.0.1', 64 * 1024, `echo started >> '${marker}'\nexit 3`);
    const s = await setup((srv) => srv.publish({ version: '1.0.1', file: appImageName('1.0.1'), data: crashing }));
    const entry = launchAtLoginEntry(s.appImage, cleanups);
    await ready(s);
    const before = (await health(s.port))!;

    await expect(s.service.install()).rejects.toThrow(/exited with code 3/);
    expect(await health(s.port)).toMatchObject({ instance: before.instance, state: 'serving' });
    expect(fs.readFileSync(marker, 'utf8')).toBe('started\n');
    // N is where it was, whole; N+1 is not left beside it.
    expect(fs.existsSync(s.appImage), `${s.appImage} is still there`).toBe(true);
    expect(sameBytes(s.appImage, B['1.0.0']!.file)).toBe(true);
    expect(fs.readdirSync(path.dirname(s.appImage))).toEqual([path.basename(s.appImage)]);
    // What starts Berth next (a relaunch, the next login) still names N.
    expect(process.env.APPIMAGE).toBe(s.appImage);
    expect(fs.readFileSync(entry, 'utf8')).toContain(`Exec=${s.appImage} --hidden\n`);
    expect(s.service.status()).toMatchObject({ state: 'ready', version: '1.0.1', error: expect.stringMatching(/exited with code 3.*Berth 1\.0\.0 keeps running\.$/) });

    // Restart to update works again: the install really runs a second time (electron-updater would ignore it).
    await expect(s.service.install()).rejects.toThrow(/exited with code 3/);
    expect(fs.readFileSync(marker, 'utf8')).toBe('started\nstarted\n');
    expect(sameBytes(s.appImage, B['1.0.0']!.file)).toBe(true);
    expect(s.exits).toEqual([]);
  });

  it('an install folder with too little room for N+1 beside N: refused before writing, N untouched, nothing truncated left', async (ctx) => {
    // Room for N and half of N+1: what a nearly full USB stick or data partition has.
    const small = await smallFilesystem(Math.ceil((B['1.0.0']!.size * 1.5) / 4096) * 4096 + 64 * 1024);
    if ('problem' in small) return ctx.skip(small.problem);
    cleanups.push(() => small.unmount());
    const s = await setup((srv) => srv.publishBuild(B['1.0.1']!), { installDir: small.dir });
    // A running AppImage holds its own file open (the runtime mounts it): deleting it frees no room.
    const held = fs.openSync(s.appImage, 'r');
    cleanups.push(async () => fs.closeSync(held));
    await ready(s);
    const before = (await health(s.port))!;
    const free = small.free();

    await expect(s.service.install()).rejects.toThrow(/room/);
    expect(await health(s.port)).toMatchObject({ instance: before.instance, state: 'serving' });
    expect(fs.readdirSync(small.dir)).toEqual([path.basename(s.appImage)]);
    expect(sameBytes(s.appImage, B['1.0.0']!.file)).toBe(true);
    expect(small.free()).toBe(free);
    const st = s.service.status();
    expect(st).toMatchObject({ state: 'ready', version: '1.0.1' });
    // The folder, what is needed and what is free, in words.
    expect(st.error).toContain(small.dir);
    expect(st.error).toMatch(/needs [\d.]+ MB.* [\d.]+ MB (is )?free/);
    expect(st.error).toContain('Berth 1.0.0 keeps running.');
  });

  it('after N+1 has served, N is gone and launch at login names N+1', async () => {
    const s = await setup((srv) => srv.publishBuild(B['1.0.1']!));
    const entry = launchAtLoginEntry(s.appImage, cleanups);
    await ready(s);
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await servingVersion(s.port, '1.0.1');
    await waitFor(() => s.exits.length > 0, 'the old host to exit');
    const installed = path.join(path.dirname(s.appImage), appImageName('1.0.1'));
    await waitFor(() => !fs.existsSync(s.appImage), 'N to be removed');
    expect(fs.readdirSync(path.dirname(s.appImage))).toEqual([path.basename(installed)]);
    expect(sameBytes(installed, B['1.0.1']!.file)).toBe(true);
    await waitFor(() => fs.readFileSync(entry, 'utf8').includes(`Exec=${installed} --hidden\n`), 'launch at login to name N+1');
  });
});
