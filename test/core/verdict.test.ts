import { describe, expect, it } from 'vitest';
import { classify, parseHealth, type Observation } from '../../app/instance/verdict';
import { probeAddresses, urlFor } from '../../app/instance/probe';

const url = 'http://127.0.0.1:8787';
const health = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ app: 'berth', version: '1.2.3', pid: 42, instance: 'abc', state: 'serving', startedAt: '2026-11-29T00:00:00.000Z', ...extra });
const http = (statusCode: number, body: string, server?: string): Observation => ({ kind: 'http', statusCode, statusLine: `HTTP/1.1 ${statusCode} X`, server, body });

describe('classify (the verdict is a pure function of what was observed)', () => {
  it('refused and unreachable are free', () => {
    expect(classify({ kind: 'refused' }, { url }).verdict).toBe('free');
    expect(classify({ kind: 'unreachable', code: 'EADDRNOTAVAIL' }, { url }).verdict).toBe('free');
  });

  it('a serving Berth that is not our predecessor is a duplicate, with what it said', () => {
    const v = classify(http(200, health()), { url, handoffFrom: 'someone-else' });
    expect(v).toEqual({ verdict: 'duplicate', running: expect.objectContaining({ pid: 42, version: '1.2.3', instance: 'abc', url }) });
  });

  it('the instance we were launched to replace is our predecessor even while it still serves', () => {
    expect(classify(http(200, health()), { url, handoffFrom: 'abc' })).toMatchObject({ verdict: 'predecessor', reason: 'handoff' });
  });

  it('any draining Berth is a predecessor', () => {
    expect(classify(http(200, health({ state: 'draining' })), { url })).toMatchObject({ verdict: 'predecessor', reason: 'draining' });
  });

  it('other HTTP replies are foreign, naming the status line and Server header', () => {
    const v = classify(http(404, 'nope', 'nginx/1.25'), { url });
    expect(v).toMatchObject({ verdict: 'foreign', statusLine: 'HTTP/1.1 404 X', server: 'nginx/1.25' });
    expect(v.verdict === 'foreign' && v.what).toContain('nginx/1.25');
    expect(classify(http(200, '{"app":"other"}'), { url }).verdict).toBe('foreign');
    expect(classify(http(200, '<html>'), { url }).verdict).toBe('foreign');
    expect(classify(http(500, health()), { url }).verdict).toBe('foreign');
  });

  it('bytes that are not HTTP are foreign', () => {
    const v = classify({ kind: 'not-http', firstLine: 'SSH-2.0-OpenSSH_9.2' }, { url });
    expect(v.verdict).toBe('foreign');
    expect(v.verdict === 'foreign' && v.what).toContain('SSH-2.0');
  });

  it('a connection that says nothing, or closes without a word, is silent', () => {
    expect(classify({ kind: 'silent' }, { url }).verdict).toBe('silent');
    expect(classify({ kind: 'closed' }, { url }).verdict).toBe('silent');
  });
});

describe('parseHealth', () => {
  it('accepts the documented shape only', () => {
    expect(parseHealth(health())).toMatchObject({ app: 'berth', pid: 42 });
    expect(parseHealth(health({ state: 'sleeping' }))).toBeNull();
    expect(parseHealth(health({ pid: '42' }))).toBeNull();
    expect(parseHealth('not json')).toBeNull();
    expect(parseHealth('null')).toBeNull();
  });

  it('keeps the hosted app\'s id when there is one', () => {
    expect(parseHealth(health({ appId: 'dev.berth.notes' }))).toMatchObject({ appId: 'dev.berth.notes' });
    expect(parseHealth(health())).not.toHaveProperty('appId');
    expect(parseHealth(health({ appId: 7 }))).not.toHaveProperty('appId');
  });
});

describe('probe addresses', () => {
  it('probes wildcard hosts on loopback', () => {
    expect(probeAddresses('0.0.0.0')).toEqual(['127.0.0.1']);
    expect(probeAddresses('')).toEqual(['127.0.0.1']);
    expect(probeAddresses('::')).toEqual(['::1', '127.0.0.1']);
    expect(probeAddresses('[::]')).toEqual(['::1', '127.0.0.1']);
    expect(probeAddresses('192.168.1.5')).toEqual(['192.168.1.5']);
    expect(urlFor('::', 8787)).toBe('http://[::1]:8787');
    expect(urlFor('0.0.0.0', 80)).toBe('http://127.0.0.1:80');
  });
});
