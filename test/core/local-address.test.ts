import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { isOwnAddress, notOwnHost } from '../../app/instance/local-address';

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

describe('is a host an address of this computer?', () => {
  it('loopback, the wildcards and the interfaces are; anything else is not', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '0.0.0.0', '::', '192.0.2.2', '::ffff:192.0.2.2', 'fd00::2', 'FD00:0:0:0:0:0:0:2', '[fd00::2]']) {
      expect(isOwnAddress(ip, interfaces), ip).toBe(true);
    }
    for (const ip of ['10.9.8.7', '192.0.2.3', 'fd00::3', '2001:db8::1', '::ffff:10.9.8.7']) expect(isOwnAddress(ip, interfaces), ip).toBe(false);
  });

  it('a name is looked up the way listen() would, and judged by the address it gives', async () => {
    const lookup = async (name: string) => ({ 'evil.com': '93.184.215.14', 'me.lan': '192.0.2.2' })[name] ?? Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    expect(await notOwnHost('evil.com', { lookup, interfaces })).toBe('is not an address of this computer (it resolves to 93.184.215.14)');
    expect(await notOwnHost('me.lan', { lookup, interfaces })).toBeNull();
    expect(await notOwnHost('nowhere.example', { lookup, interfaces })).toBe('is not an address of this computer (the name does not resolve here)');
    expect(await notOwnHost('localhost', { lookup, interfaces })).toBeNull();
    expect(await notOwnHost('10.9.8.7', { lookup, interfaces })).toBe('is not an address of this computer');
  });
});
