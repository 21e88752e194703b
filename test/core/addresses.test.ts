import net from 'node:net';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { addressesElsewhere, bare, isLoopback, isOwnAddress, isWildcard, ownAddresses, systemLookup } from '../../app/addresses';
import { notOwnHost } from '../../app/instance/local-address';
import { hostProblem } from '../../app/lifecycle/address-check';
import { checkListenHost } from '../../app/server/exposure';

// A computer with loopback and one LAN interface, as os.networkInterfaces() describes it.
const interfaces = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  eth0: [
    { address: '192.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.0.2.2/24' },
    { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
    { address: 'FE80::1%eth0', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
  ],
} as ReturnType<typeof os.networkInterfaces>;
const own = ownAddresses(interfaces);

describe('which addresses are this machine', () => {
  it('its own addresses are loopback and every interface, each once, without zone ids', () => {
    expect(own).toEqual(['127.0.0.1', '::1', '192.0.2.2', 'fd00::2', 'fe80::1']);
    expect(bare(' [FE80::1%eth0] ')).toBe('fe80::1');
    expect(bare('127.0.0.1%eth0')).toBe('127.0.0.1%eth0');
  });

  it('wildcards and loopback, in any spelling', () => {
    for (const h of ['', '0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']) expect(isWildcard(h), h).toBe(true);
    for (const h of ['127.0.0.1', '::1', 'localhost', '192.0.2.2']) expect(isWildcard(h), h).toBe(false);
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['192.0.2.2', '::', '0.0.0.0', '::2', '128.0.0.1', '127.example', '127.0.0.1%x', 'localhost']) expect(isLoopback(a), a).toBe(false);
  });

  it('loopback, the wildcards and the interfaces are its own; anything else is not', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '0.0.0.0', '::', '192.0.2.2', '::ffff:192.0.2.2', '::ffff:c000:202', 'fd00::2', 'FD00:0:0:0:0:0:0:2', '[fd00::2]', 'fe80::1%eth0']) {
      expect(isOwnAddress(ip, own), ip).toBe(true);
    }
    for (const ip of ['10.9.8.7', '192.0.2.3', 'fd00::3', '2001:db8::1', '::ffff:10.9.8.7', 'me.lan']) expect(isOwnAddress(ip, own), ip).toBe(false);
  });

  it('a name stands for this machine only when every address it resolves to is one of its own, and not a wildcard', () => {
    expect(addressesElsewhere(['192.0.2.2', '::1', '127.0.1.1'], own)).toEqual([]);
    expect(addressesElsewhere(['203.0.113.9', '127.0.0.1', '2001:db8::1'], own)).toEqual(['203.0.113.9', '2001:db8::1']);
    // A hosts-file entry that points a name at 0.0.0.0 would make listen() take every address.
    expect(addressesElsewhere(['0.0.0.0'], own)).toEqual(['0.0.0.0']);
  });

  it('the system resolver answers for localhost from this machine', async () => {
    const found = await systemLookup('localhost');
    expect(found.length).toBeGreaterThan(0);
    expect(found.filter((a) => !isLoopback(a))).toEqual([]);
  });
});

describe('the start, the CLI and the Settings move agree on a host', () => {
  const table: Record<string, string[]> = { 'me.lan': ['192.0.2.2'], 'half.lan': ['192.0.2.2', '203.0.113.9'], 'blocked.lan': ['0.0.0.0'] };
  const lookup = async (name: string) => table[name] ?? Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
  const verdicts = async (host: string) => {
    const start = await checkListenHost(host, { lookup, interfaces: () => interfaces }).then(
      () => 'ok',
      () => 'refused',
    );
    const cli = (await notOwnHost(host, { lookup, interfaces })) === null ? 'ok' : 'refused';
    const settings = hostProblem(host, { addresses: net.isIP(bare(host)) ? [bare(host)] : await lookup(host) }, own) === null ? 'ok' : 'refused';
    return [start, cli, settings];
  };

  it('each accepts what the others accept, and refuses what they refuse', async () => {
    for (const host of ['192.0.2.2', '::ffff:192.0.2.2', 'fd00:0::2', '127.0.0.2', 'me.lan']) expect(await verdicts(host), host).toEqual(['ok', 'ok', 'ok']);
    for (const host of ['10.9.8.7', '2001:db8::1', 'half.lan', 'blocked.lan']) expect(await verdicts(host), host).toEqual(['refused', 'refused', 'refused']);
  });
});

describe('the CLI: can Berth listen on this host? (notOwnHost)', () => {
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
