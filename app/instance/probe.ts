import net from 'node:net';
import { visible } from '../terminal-text';
import { classify, type Observation, type Verdict } from './verdict';

export interface ProbeOptions {
  /** How long to wait for a reply once connected (default 2 s). */
  timeout?: number;
  /** The instance id this process was launched to replace, proven by the handoff note: it classifies as `predecessor`. */
  handoffFrom?: string | null;
  /** Sent as X-Berth-Handoff: the proof (lifecycle/successor-protocol.ts) that tells the predecessor it may let go of the port. */
  handoffProof?: string | null;
}

export type ProbeResult = Verdict & { address: string; port: number; observation: Observation; ms: number };

/** Wildcard binds are probed where a client on this machine would reach them. */
export function probeAddresses(host: string): string[] {
  const h = host.trim().replace(/^\[|\]$/g, '');
  if (h === '' || h === '0.0.0.0') return ['127.0.0.1'];
  if (h === '::') return ['::1', '127.0.0.1'];
  return [h];
}

export function urlFor(host: string, port: number): string {
  const h = probeAddresses(host)[0]!;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

const MAX_REPLY = 64 * 1024;

export const HANDOFF_HEADER = 'X-Berth-Handoff';

/** How long a probe waits for an answer unless told otherwise (--probe-timeout). */
export const PROBE_TIMEOUT_MS = 2000;

/** Connect, send GET /health, and record what came back, within the timeout. */
export function observe(address: string, port: number, timeout = PROBE_TIMEOUT_MS, handoffProof?: string | null): Promise<Observation> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let connected = false;
    let settled = false;
    const socket = net.connect({ host: address, port });
    const finish = (o: Observation) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    // The timeout covers connect and reply together; on loopback a connect is instant.
    const timer = setTimeout(() => finish(connected ? fromBytes(Buffer.concat(chunks), true) : { kind: 'silent' }), timeout);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      connected = true;
      const host = address.includes(':') ? `[${address}]` : address;
      // A successor proves it is the one the instance it replaces started, so that instance may now let go of the port.
      const handoff = handoffProof && /^[\x21-\x7e ]+$/.test(handoffProof) ? `${HANDOFF_HEADER}: ${handoffProof}\r\n` : '';
      socket.write(`GET /health HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: berth-probe\r\nAccept: application/json\r\n${handoff}Connection: close\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      const buf = Buffer.concat(chunks);
      if (size >= MAX_REPLY || isComplete(buf)) finish(fromBytes(buf, false));
      else if (size >= 5 && !buf.subarray(0, 5).toString('latin1').startsWith('HTTP/')) finish(fromBytes(buf, false));
    });
    socket.on('end', () => finish(fromBytes(Buffer.concat(chunks), false)));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) finish(err.code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'unreachable', code: err.code ?? 'unknown' });
      else finish(fromBytes(Buffer.concat(chunks), false));
    });
  });
}

function headEnd(buf: Buffer): number {
  return buf.indexOf('\r\n\r\n');
}

function isComplete(buf: Buffer): boolean {
  const end = headEnd(buf);
  if (end < 0) return false;
  const head = buf.subarray(0, end).toString('latin1');
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (len) return buf.length - (end + 4) >= Number(len[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return buf.subarray(end + 4).includes('0\r\n\r\n');
  return false;
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < body.length) {
    const lineEnd = body.indexOf('\r\n', i);
    if (lineEnd < 0) break;
    const n = parseInt(body.subarray(i, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(n) || n === 0) break;
    out.push(body.subarray(lineEnd + 2, lineEnd + 2 + n));
    i = lineEnd + 2 + n + 2;
  }
  return Buffer.concat(out);
}

function fromBytes(buf: Buffer, timedOut: boolean): Observation {
  if (buf.length === 0) return timedOut ? { kind: 'silent' } : { kind: 'closed' };
  const text = buf.toString('latin1');
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const status = /^HTTP\/\d(?:\.\d)? (\d{3})(?: .*)?$/.exec(firstLine);
  if (!status) return { kind: 'not-http', firstLine: firstLine.replace(/[^\x20-\x7e]/g, '?') };
  const end = headEnd(buf);
  const head = end >= 0 ? buf.subarray(0, end).toString('latin1') : text;
  const server = /\r\nserver:\s*([^\r\n]*)/i.exec(head)?.[1]?.trim();
  let body = end >= 0 ? buf.subarray(end + 4) : Buffer.alloc(0);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) body = dechunk(body);
  // The peer's words are escaped as they come in: whoever prints them (a message, `berth status`, a log line) prints them safely.
  const statusLine = visible(firstLine.trim(), 200);
  return { kind: 'http', statusCode: Number(status[1]), statusLine, server: server === undefined ? undefined : visible(server, 200), body: body.toString('utf8') };
}

/**
 * Probe the address Berth is about to bind and say what is there. A wildcard
 * `::` is probed on ::1 and, if nothing answers there, on 127.0.0.1 too.
 */
export async function probePort(host: string, port: number, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const started = performance.now();
  const addresses = probeAddresses(host);
  let last: { address: string; observation: Observation } | undefined;
  for (const address of addresses) {
    const observation = await observe(address, port, opts.timeout ?? PROBE_TIMEOUT_MS, opts.handoffProof);
    last = { address, observation };
    if (observation.kind !== 'refused' && observation.kind !== 'unreachable') break;
  }
  const { address, observation } = last!;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const verdict = classify(observation, { url, handoffFrom: opts.handoffFrom });
  return { ...verdict, address, port, observation, ms: performance.now() - started };
}
