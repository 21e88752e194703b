/**
 * The one event stream (/api/events) and what the page does when it drops:
 * retry with backoff, and once back, reload if a different Berth answers (a
 * relaunch or an update) or follow the server to a new port (a settings
 * change). An in-process restart keeps the instance, so the page just
 * carries on with fresh data.
 *
 * How long the link has been down is its own signal (`outage`): a planned
 * restart is back within milliseconds and should show nothing, so the page
 * says "Reconnecting…" only after a second, and "Berth is not running" after
 * about ten.
 */
import type { HostStatus, LogLine, Session, UpdateState } from './api';

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'signed-out';

/** none: live (or a blip under a second); down: unreachable for a second or more; gone: for about 10 s, or stopped on request. */
export type Outage = 'none' | 'down' | 'gone';

/**
 * Why the link dropped, as far as the page can know: Berth said it was
 * restarting (a restart, relaunch, update or move) or stopping, or it said
 * nothing at all (a crash, a hang, a lost network): "stopped responding".
 */
export type OutageCause = 'restarting' | 'stopped' | 'unannounced';

/**
 * After the server announced a restart (the `draining` event), look again
 * after 50 ms, then 100, 200...: a planned restart is usually back within
 * milliseconds, and should be found well inside OUTAGE_GRACE_MS.
 */
const PLANNED_RETRY_MS = 50;

/** A restart that is back within this long shows no banner and dims nothing. */
export const OUTAGE_GRACE_MS = 1000;
/** After this long without an answer, the page says Berth is not running and how to start it. */
export const GONE_AFTER_MS = 10_000;

interface Events {
  status: HostStatus;
  log: LogLine;
  update: UpdateState;
  link: LinkState;
  outage: Outage;
  cause: OutageCause | null;
}

/** The address to go to after a move, marked so the page there can confirm the move (see arrivedFrom). */
export function withArrival(target: string, fromPort: string): string {
  const url = new URL(target);
  url.searchParams.set('moved-from', fromPort || '80');
  return url.href;
}

type Listener<T> = (value: T) => void;

/** Retry delays: quick at first (a restart takes milliseconds), then no more than every 5 s. */
export function backoffDelay(attempt: number): number {
  return Math.min(5000, Math.round(250 * 1.6 ** attempt));
}

/** Whether the Berth now answering is not the one this page was loaded from. */
export function isNewBerth(baseline: { instance: string; version: string }, now: { instance: string; version: string }): boolean {
  return baseline.instance !== now.instance || baseline.version !== now.version;
}

/**
 * A host only this computer can reach: localhost, 127.x.y.z, ::1, in any
 * spelling of IPv6 (0:0:0:0:0:0:0:1, ::ffff:127.0.0.1), as the server's
 * isLoopbackHost (app/addresses.ts) decides, so the page asks about exposure
 * exactly when the server will need the opt-in.
 */
export function isLoopbackName(host: string): boolean {
  let h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h.includes(':')) {
    // The URL parser writes an IPv6 address one way: ::1, and ::ffff:7f00:1 for ::ffff:127.0.0.1.
    if (!URL.canParse(`http://[${h}]/`)) return false;
    h = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    return h === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h);
  }
  const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
  return h === 'localhost' || new RegExp(`^127(\\.${octet}){3}$`).test(h);
}

function isWildcard(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '' || h === '0.0.0.0' || h === '::';
}

/**
 * The address this tab should use for a server on host:port. The tab keeps
 * its own host name when it still reaches the server that way (so the
 * host-only HttpOnly cookie, which the browser sends to every port, keeps
 * signing it in; the server then sets its new port's own).
 */
export function addressFor(loc: { protocol: string; hostname: string }, host: string, port: number): string {
  const keep = isWildcard(host) || (isLoopbackName(host) && isLoopbackName(loc.hostname));
  const name = keep ? loc.hostname : host;
  const bracketed = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
  return `${loc.protocol}//${bracketed}:${port}`;
}

/** Where to go when the server has moved away from the address this tab is on; null when it has not. */
export function movedTo(loc: Pick<Location, 'protocol' | 'hostname' | 'port' | 'host' | 'pathname' | 'hash'>, status: Pick<HostStatus, 'state' | 'host' | 'port'>): string | null {
  if (status.state !== 'serving') return null;
  // URL drops a default port (":80"), as Location does, so the two compare equal.
  const target = new URL(addressFor(loc, status.host, status.port));
  if (target.host === loc.host) return null;
  return target.origin + loc.pathname + loc.hash;
}

export class LiveLink {
  status: HostStatus | null = null;
  update: UpdateState | null = null;
  state: LinkState = 'connecting';
  /** How many times the stream has been (re)opened and received a status: 1 after the first connect. */
  connects = 0;
  private source: EventSource | null = null;
  private attempt = 0;
  private timer: number | undefined;
  private baseline: { instance: string; version: string } | null = null;
  private stopExpected = false;
  /** The server said it is restarting: retry quickly at first. */
  private planned = false;
  private leaving = false;
  outage: Outage = 'none';
  private outageTimers: number[] = [];
  private readonly listeners: { [K in keyof Events]: Set<Listener<Events[K]>> } = {
    status: new Set(),
    log: new Set(),
    update: new Set(),
    link: new Set(),
    outage: new Set(),
    cause: new Set(),
  };
  /** Why the current outage began; null while live. */
  cause: OutageCause | null = null;

  constructor(private readonly nav: { reload: () => void; go: (url: string) => void } = { reload: () => location.reload(), go: (url) => location.replace(url) }) {}

  on<K extends keyof Events>(kind: K, fn: Listener<Events[K]>): () => void {
    this.listeners[kind].add(fn);
    return () => this.listeners[kind].delete(fn);
  }

  start(): void {
    this.connect();
  }

  /** The person asked Berth to stop: a lost stream now means "stopped", not "reconnecting". */
  expectStop(): void {
    this.stopExpected = true;
  }

  /** The page is about to leave for another address (a port change): stop reconnecting here. */
  leave(): void {
    this.leaving = true;
    this.clearOutageTimers();
    window.clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }

  private emit<K extends keyof Events>(kind: K, value: Events[K]): void {
    for (const fn of this.listeners[kind]) {
      try {
        fn(value);
      } catch (err) {
        console.error(err);
      }
    }
  }

  private setState(s: LinkState): void {
    if (this.state === s) return;
    const wasDown = this.state === 'reconnecting' || this.state === 'stopped';
    this.state = s;
    this.emit('link', s);
    if (s === 'live' || s === 'signed-out') {
      this.setOutage('none');
      this.setCause(null);
    }
    else if (s === 'stopped') this.setOutage('gone');
    else if (s === 'reconnecting' && !wasDown) {
      this.clearOutageTimers();
      this.outageTimers = [
        window.setTimeout(() => this.setOutage('down'), OUTAGE_GRACE_MS),
        window.setTimeout(() => this.setOutage('gone'), GONE_AFTER_MS),
      ];
    }
  }

  private clearOutageTimers(): void {
    for (const t of this.outageTimers) window.clearTimeout(t);
    this.outageTimers = [];
  }

  private setCause(c: OutageCause | null): void {
    if (this.cause === c) return;
    this.cause = c;
    this.emit('cause', c);
  }

  private setOutage(o: Outage): void {
    if (o === 'none' || o === 'gone') this.clearOutageTimers();
    if (this.outage === o) return;
    this.outage = o;
    this.emit('outage', o);
  }

  private connect(): void {
    // The time zone: log lines come with their readable form in this page's local time.
    const es = new EventSource(`/api/events?tz=${encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone)}`);
    this.source = es;
    es.addEventListener('status', (e) => this.onStatus(JSON.parse((e as MessageEvent<string>).data) as HostStatus));
    es.addEventListener('log', (e) => this.emit('log', JSON.parse((e as MessageEvent<string>).data) as LogLine));
    es.addEventListener('update', (e) => {
      this.update = JSON.parse((e as MessageEvent<string>).data) as UpdateState;
      this.emit('update', this.update);
    });
    // The server says it is going away (restart, relaunch, stop): don't wait for the socket to notice,
    // and look again soon, since a planned restart is usually back within milliseconds.
    es.addEventListener('draining', (e) => {
      // `state` says what the host is doing: draining for a stop; restarting, relaunching or serving (a move) otherwise.
      let state = '';
      try {
        state = String((JSON.parse((e as MessageEvent<string>).data) as { state?: unknown }).state ?? '');
      } catch {
        // an older Berth sends no state: a restart, as it always meant
      }
      if (state === 'draining') this.stopExpected = true;
      else this.planned = true;
      this.setCause(state === 'draining' ? 'stopped' : 'restarting');
      this.lost();
    });
    es.onerror = () => {
      // The stream broke without a word from Berth (unless this page asked it to stop).
      if (this.state === 'live') this.setCause(this.stopExpected ? 'stopped' : 'unannounced');
      this.lost();
    };
  }

  private lost(): void {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
    if (this.leaving || this.state === 'signed-out') return;
    this.setState(this.stopExpected ? 'stopped' : 'reconnecting');
    this.schedule();
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    const backoff = backoffDelay(this.attempt);
    const wait = this.planned ? Math.min(backoff, PLANNED_RETRY_MS * 2 ** this.attempt) : backoff;
    this.attempt++;
    this.timer = window.setTimeout(() => void this.retry(), wait);
  }

  /** Ask /api/session first: it tells "not there yet" from "there, but this tab is not signed in". */
  private async retry(): Promise<void> {
    if (this.leaving) return;
    try {
      const res = await fetch('/api/session', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const session = (await res.json()) as Session;
      if (!session.authenticated) {
        this.setState('signed-out');
        return;
      }
    } catch {
      this.schedule();
      return;
    }
    this.connect();
  }

  private onStatus(s: HostStatus): void {
    // A Berth on its way out (a stop, reached over a kept-alive connection) is not a link back: its `draining` follows.
    if (s.state === 'draining' || s.state === 'stopped') return;
    if (this.baseline && isNewBerth(this.baseline, s)) {
      // A relaunch or an update: load the page the new Berth serves. Once: the reloaded page starts a fresh baseline.
      this.leave();
      this.nav.reload();
      return;
    }
    this.baseline ??= { instance: s.instance, version: s.version };
    const target = movedTo(location, s);
    if (target) {
      this.leave();
      this.nav.go(withArrival(target, location.port));
      return;
    }
    this.status = s;
    if (this.state !== 'live') {
      this.connects++;
      this.attempt = 0;
      this.stopExpected = false;
      this.planned = false;
    }
    this.setState('live');
    this.emit('status', s);
  }
}
