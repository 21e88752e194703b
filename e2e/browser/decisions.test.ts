/**
 * The web UI's decisions, tested directly (they are pure functions with no
 * DOM): where a tab goes when the server moves, when it reloads, how fast it
 * retries, and how numbers read. The browser tests cover the same paths end
 * to end; these pin the edge cases.
 */
import { describe, expect, test } from 'vitest';
import { addressFor, backoffDelay, isNewBerth, movedTo } from '../../renderer/src/live';
import { formatBytes, formatDowntime, formatUptime } from '../../renderer/src/format';

const at = (href: string) => {
  const u = new URL(href);
  return { protocol: u.protocol, hostname: u.hostname, port: u.port, host: u.host, pathname: u.pathname, hash: u.hash };
};

describe('movedTo: where an open tab follows the server', () => {
  test('a new port on loopback keeps the host name the tab uses (the cookie is per host, not per port)', () => {
    expect(movedTo(at('http://127.0.0.1:8787/#/settings'), { state: 'serving', host: '127.0.0.1', port: 9000 })).toBe('http://127.0.0.1:9000/#/settings');
    expect(movedTo(at('http://localhost:8787/#/status'), { state: 'serving', host: '127.0.0.1', port: 9000 })).toBe('http://localhost:9000/#/status');
  });

  test('no move: same port, or a host that still reaches the tab, or a server that is not serving', () => {
    expect(movedTo(at('http://127.0.0.1:8787/#/status'), { state: 'serving', host: '127.0.0.1', port: 8787 })).toBeNull();
    expect(movedTo(at('http://localhost:8787/'), { state: 'serving', host: '127.0.0.1', port: 8787 })).toBeNull();
    expect(movedTo(at('http://192.168.1.20:8787/'), { state: 'serving', host: '0.0.0.0', port: 8787 })).toBeNull();
    expect(movedTo(at('http://127.0.0.1:8787/'), { state: 'draining', host: '127.0.0.1', port: 9000 })).toBeNull();
  });

  test('a default port compares equal to the address bar, which omits it (no reload loop)', () => {
    expect(movedTo(at('http://127.0.0.1/#/status'), { state: 'serving', host: '127.0.0.1', port: 80 })).toBeNull();
  });

  test('a specific non-loopback address is used as is, IPv6 in brackets', () => {
    expect(addressFor({ protocol: 'http:', hostname: '127.0.0.1' }, '192.168.1.20', 8787)).toBe('http://192.168.1.20:8787');
    expect(addressFor({ protocol: 'http:', hostname: '127.0.0.1' }, 'fe80::1', 8787)).toBe('http://[fe80::1]:8787');
    expect(addressFor({ protocol: 'http:', hostname: '[::1]' }, '::1', 8787)).toBe('http://[::1]:8787');
  });
});

test('a relaunch or an update is a new Berth; an in-process restart is not', () => {
  const base = { instance: 'a', version: '1.0.0' };
  expect(isNewBerth(base, { instance: 'a', version: '1.0.0' })).toBe(false);
  expect(isNewBerth(base, { instance: 'b', version: '1.0.0' })).toBe(true);
  expect(isNewBerth(base, { instance: 'a', version: '1.1.0' })).toBe(true);
});

test('reconnect backoff starts fast and never waits more than 5 s', () => {
  const delays = Array.from({ length: 12 }, (_, i) => backoffDelay(i));
  expect(delays[0]).toBe(250);
  expect(delays).toEqual([...delays].sort((a, b) => a - b));
  expect(Math.max(...delays)).toBe(5000);
});

test('figures read naturally', () => {
  expect(formatDowntime(null)).toBe('—');
  expect(formatDowntime(0)).toBe('none');
  expect(formatDowntime(0.42)).toBe('0.42 ms');
  expect(formatDowntime(22)).toBe('22.0 ms');
  expect(formatDowntime(1500)).toBe('1500 ms');
  expect(formatDowntime(12_000)).toBe('12.0 s');
  expect(formatUptime(59_000)).toBe('59 s');
  expect(formatUptime(3_725_000)).toBe('1 h 2 min');
  expect(formatBytes(1536)).toBe('1.5 KB');
  expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MB');
});
