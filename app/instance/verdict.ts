/**
 * What a probe of the port saw, and what Berth makes of it. `classify` is a
 * pure function so every verdict is tested directly, without sockets.
 *
 * Everything in an observation came off the network, from whatever holds the
 * port. A verdict's text (`what`, `statusLine`, `server`, a peer's health
 * fields) is escaped here, where it is made, so every message, status line
 * and log line built from it is safe to print on a terminal.
 */
import { visible } from '../terminal-text';

export type Observation =
  | { kind: 'refused' }
  /** Connected, but no reply before the timeout (a dying or stuck process). */
  | { kind: 'silent' }
  /** Connected, and the peer closed without a byte: a process on its way out, or one that shuts the door. */
  | { kind: 'closed' }
  | { kind: 'http'; statusCode: number; statusLine: string; server?: string; body: string }
  | { kind: 'not-http'; firstLine: string }
  /** Could not connect for another reason (EADDRNOTAVAIL, ENETUNREACH...): nobody is there for us to meet. */
  | { kind: 'unreachable'; code: string };

export interface BerthHealth {
  app: 'berth';
  version: string;
  pid: number;
  instance: string;
  state: 'serving' | 'draining';
  startedAt: string;
  /** The hosted app's id (defineApp's `id`, such as dev.berth.notes); absent when Berth serves its console alone. */
  appId?: string;
  /** Present for a while after Berth ran short of file descriptors (app/server/descriptors.ts). */
  descriptors?: { limit: number; shortAt: string; closedIdle: number; answeredOver: number };
}

export interface RunningBerth extends BerthHealth {
  url: string;
}

export type Verdict =
  | { verdict: 'free' }
  | { verdict: 'duplicate'; running: RunningBerth }
  | { verdict: 'predecessor'; running: RunningBerth; reason: 'handoff' | 'draining' }
  | { verdict: 'foreign'; what: string; statusLine?: string; server?: string }
  | { verdict: 'silent'; what: string };

export type VerdictName = Verdict['verdict'];

export function parseHealth(body: string): BerthHealth | null {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const h = v as Record<string, unknown>;
  if (h.app !== 'berth') return null;
  if (typeof h.instance !== 'string' || typeof h.pid !== 'number' || typeof h.version !== 'string') return null;
  if (h.state !== 'serving' && h.state !== 'draining') return null;
  const d = h.descriptors as Record<string, unknown> | undefined;
  const descriptors =
    d && typeof d.limit === 'number' && typeof d.closedIdle === 'number' && typeof d.answeredOver === 'number'
      ? { limit: d.limit, shortAt: visible(String(d.shortAt ?? ''), 64), closedIdle: d.closedIdle, answeredOver: d.answeredOver }
      : undefined;
  const appId = typeof h.appId === 'string' ? visible(h.appId, 128) : undefined;
  return { app: 'berth', version: visible(h.version, 64), pid: h.pid, instance: visible(h.instance, 64), state: h.state, startedAt: visible(String(h.startedAt ?? ''), 64), ...(appId ? { appId } : {}), ...(descriptors ? { descriptors } : {}) };
}

export function classify(obs: Observation, ctx: { url: string; handoffFrom?: string | null }): Verdict {
  switch (obs.kind) {
    case 'refused':
    case 'unreachable':
      return { verdict: 'free' };
    case 'silent':
      return { verdict: 'silent', what: 'a process accepted the connection but did not answer' };
    case 'closed':
      return { verdict: 'silent', what: 'a process accepted the connection and closed it without answering' };
    case 'not-http':
      return { verdict: 'foreign', what: `a program that does not speak HTTP (it sent "${visible(obs.firstLine, 60)}")` };
    case 'http': {
      const health = obs.statusCode === 200 ? parseHealth(obs.body) : null;
      if (!health) {
        const statusLine = visible(obs.statusLine, 120);
        const server = obs.server === undefined ? undefined : visible(obs.server, 120);
        return { verdict: 'foreign', what: `another web server: "${statusLine}"${server ? ` (Server: ${server})` : ''}`, statusLine, server };
      }
      const running: RunningBerth = { ...health, url: ctx.url };
      if (ctx.handoffFrom && health.instance === ctx.handoffFrom) return { verdict: 'predecessor', running, reason: 'handoff' };
      if (health.state === 'draining') return { verdict: 'predecessor', running, reason: 'draining' };
      return { verdict: 'duplicate', running };
    }
  }
}
