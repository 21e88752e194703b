// The client-seen gap of an in-place restart: a poller in its own process asks
// for a path on a fresh connection each time, as fast as it can, and reports the
// longest stretch without an answer in a window. The same window without a
// restart is the control; the gap of a restart is read against it.
import { fork } from 'node:child_process';
import path from 'node:path';
import { ROOT, requestRetrying, sleep } from './berth.mjs';

export function startPoller(port, urlPath = '/health') {
  const child = fork(path.join(ROOT, 'bench', 'poller.mjs'), [String(port), urlPath], { stdio: 'ignore' });
  const ask = (cmd, reply) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.cmd === reply) {
          child.off('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
      child.send({ cmd });
    });
  return { begin: () => ask('begin', 'begun'), end: async () => (await ask('end', 'gap')).gap, stop: () => child.send({ cmd: 'stop' }) };
}

/** `restarts` in-place restarts back to back, each in a poller window, after up to 200 windows without one (the control). */
export async function restartGapsAndControl(port, auth, poller, restarts) {
  const controlGaps = [];
  for (let i = 0; i < Math.min(restarts, 200); i++) {
    await requestRetrying(port, 'GET', '/api/status', auth);
    await poller.begin();
    await requestRetrying(port, 'GET', '/api/status', auth);
    await requestRetrying(port, 'GET', '/api/status', auth);
    await sleep(3);
    controlGaps.push(await poller.end());
  }
  const restartGaps = [];
  for (let i = 0; i < restarts; i++) {
    const before = (await requestRetrying(port, 'GET', '/api/status', auth)).json().history.at(-1)?.at;
    await poller.begin();
    // Answered once the new generation serves (200 with its history entry).
    const res = await requestRetrying(port, 'POST', '/api/restart', auth);
    if (res.status !== 200) throw new Error(`restart refused: ${res.status}`);
    let last;
    for (;;) {
      last = (await requestRetrying(port, 'GET', '/api/status', auth)).json().history.at(-1);
      if (last && last.kind === 'restart' && last.at !== before) break;
      await sleep(1);
    }
    await sleep(3); // let the poller land a few answers after the swap
    restartGaps.push(await poller.end());
  }
  return { restartGaps, controlGaps };
}

/**
 * `restarts` restart windows, each right after a control window of the same
 * shape: the two series see the same load, which comes and goes on a shared machine.
 */
export async function interleavedGaps(port, auth, poller, restarts) {
  const controlGaps = [];
  const restartGaps = [];
  const lastAt = async () => (await requestRetrying(port, 'GET', '/api/status', auth)).json().history.at(-1)?.at;
  for (let i = 0; i < restarts; i++) {
    await lastAt();
    await poller.begin();
    await lastAt();
    await lastAt();
    await sleep(3);
    controlGaps.push(await poller.end());

    const before = await lastAt();
    await poller.begin();
    const res = await requestRetrying(port, 'POST', '/api/restart', auth);
    if (res.status !== 200) throw new Error(`restart refused: ${res.status}`);
    for (;;) {
      const last = (await requestRetrying(port, 'GET', '/api/status', auth)).json().history.at(-1);
      if (last && last.kind === 'restart' && last.at !== before) break;
      await sleep(1);
    }
    await sleep(3); // let the poller land a few answers after the swap
    restartGaps.push(await poller.end());
  }
  return { restartGaps, controlGaps };
}
