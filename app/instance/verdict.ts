/**
 * What a probe of the port saw, and what Berth makes of it. `classify` is a
 * pure function so every verdict is tested directly, without sockets.
 */

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
  return { app: 'berth', version: h.version, pid: h.pid, instance: h.instance, state: h.state, startedAt: String(h.startedAt ?? '') };
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
      return { verdict: 'foreign', what: `a program that does not speak HTTP (it sent ${JSON.stringify(obs.firstLine.slice(0, 60))})` };
    case 'http': {
      const health = obs.statusCode === 200 ? parseHealth(obs.body) : null;
      if (!health) {
        const server = obs.server ? ` (Server: ${obs.server})` : '';
        return { verdict: 'foreign', what: `another web server: "${obs.statusLine}"${server}`, statusLine: obs.statusLine, server: obs.server };
      }
      const running: RunningBerth = { ...health, url: ctx.url };
      if (ctx.handoffFrom && health.instance === ctx.handoffFrom) return { verdict: 'predecessor', running, reason: 'handoff' };
      if (health.state === 'draining') return { verdict: 'predecessor', running, reason: 'draining' };
      return { verdict: 'duplicate', running };
    }
  }
}
