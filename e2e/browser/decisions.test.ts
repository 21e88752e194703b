/**
 * The web UI's decisions, tested directly (they are pure functions with no
 * DOM): where a tab goes when the server moves, when it reloads, how fast it
 * retries, and how numbers read. The browser tests cover the same paths end
 * to end; these pin the edge cases.
 */
import { describe, expect, test } from 'vitest';
import { addressFor, backoffDelay, isLoopbackName, isNewBerth, movedTo, withArrival } from '../../renderer/src/live';
import { formatBytes, formatDowntime, formatTime, formatUptime } from '../../renderer/src/format';
import { startCommand } from '../../app/lifecycle/start-command';
import { isLoopbackHost, isOwnAddress } from '../../app/addresses';
import { bindProblem, hostProblem, portProblem } from '../../app/lifecycle/address-check';
import type { ProbeResult } from '../../app/instance/probe';
import { isUnconfiguredFeed } from '../../app/update/state';

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

test('the page and the server agree on which hosts are this computer only (the exposure question is asked exactly when the opt-in is needed)', () => {
  const hosts = ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:7F00:1', '[::ffff:127.9.9.9]'];
  const beyond = ['0.0.0.0', '::', '192.0.2.2', '::2', '128.0.0.1', '127.0.0.01', '127.256.0.1', '127.example', 'localhost.example', '::ffff:192.0.2.2', '::127.0.0.1', 'fe80::1', ''];
  for (const h of hosts) expect([h, isLoopbackName(h), isLoopbackHost(h)]).toEqual([h, true, true]);
  for (const h of beyond) expect([h, isLoopbackName(h), isLoopbackHost(h)]).toEqual([h, false, false]);
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

test('log and history times carry the date when they are not from today', () => {
  const now = new Date(2026, 10, 29, 12, 0, 0);
  const today = new Date(2026, 10, 29, 9, 30, 5);
  const yesterday = new Date(2026, 10, 28, 23, 59, 0);
  expect(formatTime(today.toISOString(), now)).not.toMatch(/Nov|28|29/);
  expect(formatTime(yesterday.toISOString(), now)).toMatch(/Nov 28|28 Nov/);
});

test('after a move, the new address says where the tab came from, and the hash stays last', () => {
  expect(withArrival('http://127.0.0.1:9000/#/settings', '8787')).toBe('http://127.0.0.1:9000/?moved-from=8787#/settings');
});

describe('startCommand: how a page tells a person to start this Berth again', () => {
  const base = { env: {}, host: '127.0.0.1', port: 8787, dataDir: '/home/a/.config/Berth' };
  test('only the flags the person gave, with the values in force now', () => {
    expect(startCommand({ ...base, args: ['serve'] })).toBe('berth serve');
    expect(startCommand({ ...base, args: ['serve', '--data-dir', '/tmp/x'], dataDir: '/tmp/x' })).toBe('berth serve --data-dir /tmp/x');
    // Started on 9000, then moved to 9001 from Settings: the command names where it is now.
    expect(startCommand({ ...base, args: ['serve', '--port=9000'], port: 9001 })).toBe('berth serve --port 9001');
    expect(startCommand({ ...base, args: ['serve'], env: { BERTH_PORT: '9000', BERTH_HOST: '0.0.0.0' }, host: '0.0.0.0', port: 9000 })).toBe('berth serve --host 0.0.0.0 --port 9000');
  });
  test('a folder with spaces is quoted', () => {
    expect(startCommand({ ...base, args: ['serve', '--data-dir', 'C:\\Users\\A B\\Berth'], dataDir: 'C:\\Users\\A B\\Berth' })).toBe('berth serve --data-dir "C:\\Users\\A B\\Berth"');
  });
});

describe('address check wording (decided without the network)', () => {
  const local = ['127.0.0.1', '::1', '192.0.2.2', 'fe80::1'];
  test('a host must be an address of this computer, and a name must resolve only to such addresses', () => {
    expect(isOwnAddress('127.0.0.5', local)).toBe(true);
    expect(isOwnAddress('0.0.0.0', local)).toBe(true);
    expect(isOwnAddress('::ffff:192.0.2.2', local)).toBe(true);
    expect(isOwnAddress('10.9.8.7', local)).toBe(false);
    expect(hostProblem('10.9.8.7', { addresses: ['10.9.8.7'] }, local)).toBe('This computer has no address 10.9.8.7.');
    expect(hostProblem('192.0.2.2', { addresses: ['192.0.2.2'] }, local)).toBeNull();
    expect(hostProblem('localhost', { addresses: ['127.0.0.1', '::1'] }, local)).toBeNull();
    expect(hostProblem('evil.com', { addresses: ['93.184.215.14'] }, local)).toBe('evil.com resolves to 93.184.215.14, which is not an address of this computer.');
    expect(hostProblem('evil.com', { error: 'EAI_AGAIN' }, local)).toBe('evil.com is not a name of this computer: it does not resolve (EAI_AGAIN).');
  });
  test('what holds the port, in the words the field shows', () => {
    const probe = (v: object) => ({ address: '127.0.0.1', port: 9000, ms: 1, observation: { kind: 'refused' }, ...v }) as unknown as ProbeResult;
    expect(portProblem(probe({ verdict: 'free' }), 'me')).toBeNull();
    expect(portProblem(probe({ verdict: 'foreign', what: 'another web server: "HTTP/1.1 200 OK" (Server: nginx/1.25.3)', server: 'nginx/1.25.3' }), 'me')).toBe('Port 9000 is used by nginx/1.25.3.');
    expect(portProblem(probe({ verdict: 'duplicate', running: { instance: 'other', version: '1.2.0', pid: 42 } }), 'me')).toBe('Port 9000 is used by another Berth (version 1.2.0, pid 42).');
    expect(portProblem(probe({ verdict: 'duplicate', running: { instance: 'me', version: '1.2.0', pid: 42 } }), 'me')).toBeNull();
    expect(bindProblem('EADDRNOTAVAIL', '10.9.8.7', 9000)).toEqual({ field: 'host', message: 'This computer has no address 10.9.8.7.' });
    expect(bindProblem('EACCES', '127.0.0.1', 80).field).toBe('port');
  });
  test('a build without an update server has a .invalid feed', () => {
    expect(isUnconfiguredFeed('https://updates.berth.invalid/')).toBe(true);
    expect(isUnconfiguredFeed('http://127.0.0.1:9/updates/')).toBe(false);
    expect(isUnconfiguredFeed(null)).toBe(false);
  });
});
