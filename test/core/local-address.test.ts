import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { notOwnHost } from '../../app/instance/local-address';

// A computer with loopback and one LAN interface, as os.networkInterfaces() describes it.
const interfaces = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  eth0: [
    { address: '192.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.0.2.2/24' },
    { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
  ],
} as ReturnType<typeof os.networkInterfaces>;

describe('can Berth listen on this host?', () => {
  it('an address must be one of this computer', async () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '[::]', '192.0.2.2', '::ffff:192.0.2.2', 'FD00:0:0:0:0:0:0:2']) expect(await notOwnHost(host, { interfaces }), host).toBeNull();
    expect(await notOwnHost('10.9.8.7', { interfaces })).toBe('is not an address of this computer');
  });

  it('a name is looked up, and every address it stands for must be this computer', async () => {
    const table: Record<string, string[]> = { 'evil.com': ['93.184.215.14'], 'me.lan': ['192.0.2.2', 'fd00::2'], 'half.lan': ['192.0.2.2', '203.0.113.9'], 'blocked.lan': ['0.0.0.0'], 'empty.lan': [] };
    const lookup = async (name: string) => table[name] ?? Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    expect(await notOwnHost('evil.com', { lookup, interfaces })).toBe('is not an address of this computer (it resolves to 93.184.215.14)');
    expect(await notOwnHost('me.lan', { lookup, interfaces })).toBeNull();
    expect(await notOwnHost('half.lan', { lookup, interfaces })).toBe('is not an address of this computer (it resolves to 203.0.113.9)');
    expect(await notOwnHost('blocked.lan', { lookup, interfaces })).toBe('is not an address of this computer (it resolves to 0.0.0.0)');
    expect(await notOwnHost('nowhere.example', { lookup, interfaces })).toBe('is not an address of this computer (the name does not resolve here)');
    expect(await notOwnHost('empty.lan', { lookup, interfaces })).toBe('is not an address of this computer (the name does not resolve here)');
    expect(await notOwnHost('localhost', { lookup, interfaces })).toBeNull();
    expect(await notOwnHost('LocalHost', { lookup, interfaces })).toBeNull();
  });
});
