/**
 * Socket activation: systemd (or `systemd-socket-activate`) opens the
 * listening socket and starts `berth serve` with it, as sd_listen_fds(3)
 * describes: LISTEN_PID is this process, LISTEN_FDS how many descriptors it
 * passed, from 3 on, and LISTEN_FDNAMES their names. Berth serves on that
 * socket as a relaunched Berth serves on the one its predecessor handed over:
 * without a probe (the socket is already its own), and it hands it on at its
 * own relaunches. The variables are removed, so nothing Berth starts takes
 * them for its own.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { bare, isLoopback } from '../addresses';
import { remoteOptIn, type ResolvedConfig, type Source } from '../config';
import { BerthError, ExitCode } from '../errors';

/** The name to give Berth's socket (FileDescriptorName=) when a unit passes more than one. */
export const SOCKET_NAME = 'berth';

export interface ActivatedSocket {
  fd: number;
  /** Where it listens (Linux, read from /proc); null where that cannot be read, and the configured address must match. */
  address: { host: string; port: number } | null;
}

export function takeActivatedSocket(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ActivatedSocket | null {
  const forPid = env.LISTEN_PID;
  const count = env.LISTEN_FDS;
  const names = env.LISTEN_FDNAMES;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  // Passed to another process (a wrapper that did not exec): not ours.
  if (forPid === undefined || Number(forPid) !== pid) return null;
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1) return null;
  let fd = 3;
  if (n > 1) {
    const i = (names ?? '').split(':').indexOf(SOCKET_NAME);
    if (i < 0 || i >= n) {
      throw new BerthError(`systemd passed ${n} sockets; Berth serves on one, so name it with FileDescriptorName=${SOCKET_NAME} in its .socket unit.`, ExitCode.usage);
    }
    fd = 3 + i;
  }
  return { fd, address: process.platform === 'linux' ? listeningAddress(fd) : null };
}

/**
 * Linux: the local address of the listening TCP socket `fd` (its inode in
 * /proc/self/fd, looked up in /proc/net/tcp and tcp6). Anything else (a Unix
 * socket, a datagram socket, a socket that is not listening) is a unit that
 * Berth cannot serve on.
 */
function listeningAddress(fd: number): { host: string; port: number } {
  let link: string;
  try {
    link = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    throw new BerthError(`systemd said it passed a socket as descriptor ${fd}, but there is none.`, ExitCode.usage);
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  for (const [table, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 on this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // State 0A is LISTEN.
      if (!inode || f[9] !== inode || f[3] !== '0A') continue;
      const [hex, port] = f[1]!.split(':');
      return { host: v6 ? ipv6(hex!) : ipv4(hex!), port: parseInt(port!, 16) };
    }
  }
  throw new BerthError(
    `The socket systemd passed (descriptor ${fd}) is not a listening TCP socket; Berth needs ListenStream= with a port, such as ListenStream=127.0.0.1:8787.`,
    ExitCode.usage,
  );
}

/** The kernel prints each 32-bit word of an address in the machine's byte order. */
function words(hex: string): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < hex.length; i += 8) {
    const bytes = [0, 2, 4, 6].map((j) => parseInt(hex.slice(i + j, i + j + 2), 16));
    out.push(os.endianness() === 'LE' ? bytes.reverse() : bytes);
  }
  return out;
}

function ipv4(hex: string): string {
  return words(hex)[0]!.join('.');
}

function ipv6(hex: string): string {
  const bytes = words(hex).flat();
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const address = new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
  // An IPv4 address written the IPv6 way is that IPv4 address.
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * Where Berth serves is where the socket listens: the .socket unit decides,
 * over the settings file and the defaults. A --host or --port (or BERTH_HOST,
 * BERTH_PORT) that says otherwise is a mistake to name, and a socket beyond
 * loopback needs the same opt-in as a host from the settings file.
 */
export function configForSocket(config: ResolvedConfig, socket: ActivatedSocket, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  if (!socket.address) return config;
  const { host, port } = socket.address;
  const typed = (source: Source, flag: string, variable: string) => (source === 'flag' ? flag : source === 'env' ? variable : null);
  const portFrom = typed(config.sources.port, '--port', 'BERTH_PORT');
  if (portFrom && config.port !== port) {
    throw new BerthError(`systemd passed a socket on port ${port}, but ${portFrom} says ${config.port}; leave the address to the .socket unit (ListenStream=).`, ExitCode.usage);
  }
  const hostFrom = typed(config.sources.host, '--host', 'BERTH_HOST');
  if (hostFrom && !sameHost(config.host, host)) {
    throw new BerthError(`systemd passed a socket on ${host}, but ${hostFrom} says ${config.host}; leave the address to the .socket unit (ListenStream=).`, ExitCode.usage);
  }
  // A --host or BERTH_HOST that agrees was already checked as what it is; otherwise the socket chose.
  if (hostFrom) return { ...config, host, port };
  const from = 'the socket systemd passed (ListenStream=)';
  return { ...config, host, port, hostFrom: from, remoteAllowedBy: isLoopback(host) ? null : remoteOptIn(host, from, config.settings, env, path.join(config.dataDir, 'settings.json')) };
}

function sameHost(configured: string, listening: string): boolean {
  const c = bare(configured);
  return c === bare(listening) || (c === 'localhost' && isLoopback(listening));
}
