import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ask, NoAnswer, request } from '../../app/cli/api';
import type { Context, RunningProbe } from '../../app/cli/find';
import { Output } from '../../app/cli/output';
import { defaultSettings } from '../../app/settings/settings';
import { BerthError } from '../../app/errors';
import { probePort } from '../../app/instance/probe';
import { tempDataDir } from '../helpers';
import { flakyBerth } from './cli-fixtures';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function contextFor(port: number): Context {
  return {
    config: { host: '127.0.0.1', port, dataDir: tempDataDir(), settings: defaultSettings(), sources: { host: 'flag', port: 'flag', dataDir: 'flag' }, warnings: [] },
    flags: { port: String(port) },
    out: new Output(true),
    probeTimeout: 1000,
  };
}

async function running(port: number): Promise<RunningProbe> {
  const p = await probePort('127.0.0.1', port);
  if (p.verdict !== 'duplicate') throw new Error(`expected a Berth on ${port}, saw ${p.verdict}`);
  return p as RunningProbe;
}

describe('the CLI sends a request again when it was reset before any answer', () => {
  it('a connection reset before any answer is a NoAnswer, not a crash', async () => {
    const srv = net.createServer((s) => s.resetAndDestroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const port = (srv.address() as net.AddressInfo).port;
    const err = await request({ address: '127.0.0.1', port }, 't', 'POST', '/api/restart').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoAnswer);
    expect((err as NoAnswer).code).toBe('ECONNRESET');
  });

  it('two resets, then an answer: the answer, after three tries', async () => {
    const berth = await flakyBerth({ resets: 2, reply: { status: 202, body: { accepted: 'restart' } } });
    cleanups.push(() => berth.close());
    const ctx = contextFor(berth.port);
    const res = await ask(ctx, await running(berth.port), 'POST', '/api/restart', { token: 't', acknowledged: async () => false });
    expect(res).toMatchObject({ status: 202, body: { accepted: 'restart' } });
    expect(berth.requests.filter((r) => r === 'POST /api/restart')).toHaveLength(3);
  });

  it('a reset request that took effect anyway is not sent again', async () => {
    const berth = await flakyBerth({ resets: 1, reply: { status: 202, body: {} } });
    cleanups.push(() => berth.close());
    const ctx = contextFor(berth.port);
    const res = await ask(ctx, await running(berth.port), 'POST', '/api/stop', { token: 't', acknowledged: async () => true });
    expect(res).toBe('acknowledged');
    expect(berth.requests.filter((r) => r === 'POST /api/stop')).toHaveLength(1);
  });

  it('a server that resets every request: a bounded number of tries, then one sentence', async () => {
    const berth = await flakyBerth({ resets: 1000, reply: { status: 200, body: {} } });
    cleanups.push(() => berth.close());
    const ctx = contextFor(berth.port);
    const err = await ask(ctx, await running(berth.port), 'GET', '/api/status', { token: 't' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).message).toMatch(/closed the connection 6 times before answering \(ECONNRESET\); try again/);
    expect(berth.requests.filter((r) => r === 'GET /api/status')).toHaveLength(6);
  });
});
