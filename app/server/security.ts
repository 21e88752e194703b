import crypto from 'node:crypto';
import net from 'node:net';
import { isWildcard } from '../addresses';

/** A Host header as a browser writes it: a name or address (lower case, IPv6 without brackets) and an optional port. */
export interface HostHeader {
  host: string;
  port: number | null;
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** An IPv4 address as browsers write one: four decimal parts, no leading zeros. */
const CANONICAL_IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const LABELS = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/;

/**
 * Parse a Host header strictly: null when no browser could have sent it. A
 * browser's URL parser turns a host that ends in a number into an IPv4
 * address (127.1 and 2130706433 become 127.0.0.1) and writes ports without
 * leading zeros, so anything else that looks numeric is malformed, as is a
 * port outside 1-65535 or an IPv6 address that does not parse.
 */
export function parseHostHeader(header: string | undefined): HostHeader | null {
  if (!header) return null;
  const h = header.trim().toLowerCase();
  let host: string;
  let rest: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    host = h.slice(1, end);
    rest = h.slice(end + 1);
    // A zone (fe80::1%eth0) is no part of an address a browser sends.
    if (host.includes('%') || !net.isIPv6(host)) return null;
  } else {
    const colon = h.indexOf(':');
    host = colon < 0 ? h : h.slice(0, colon);
    rest = colon < 0 ? '' : h.slice(colon);
    if (!LABELS.test(host)) return null;
    const last = host.replace(/\.$/, '').split('.').at(-1)!;
    if ((/^\d+$/.test(last) || /^0x[0-9a-f]*$/.test(last)) && !CANONICAL_IPV4.test(host)) return null;
  }
  if (rest === '') return { host, port: null };
  const port = /^:([1-9]\d{0,4})$/.exec(rest);
  if (!port || Number(port[1]) > 65535) return null;
  return { host, port: Number(port[1]) };
}

/** A Host header's host part, lower-cased, without brackets or port; null when it is malformed. */
export function hostOfHeader(header: string | undefined): string | null {
  return parseHostHeader(header)?.host ?? null;
}

/**
 * DNS-rebinding guard: a request is only served when its Host names this
 * machine's loopback or the host Berth was configured with. A page on
 * evil.test that rebinds its name to 127.0.0.1 still sends Host: evil.test.
 */
export function isAllowedHost(header: string | undefined, configuredHost: string): boolean {
  const host = hostOfHeader(header);
  return host !== null && hostAllowed(host, configuredHost);
}

function hostAllowed(host: string, configuredHost: string): boolean {
  if (isLoopbackName(host)) return true;
  // A wildcard bind reaches the server through any local address, but the
  // allowlist stays names we know; LAN access uses the machine's address literally.
  if (isWildcard(configuredHost)) return net.isIP(host) !== 0;
  const configured = configuredHost.toLowerCase().replace(/^\[|\]$/g, '');
  return host === configured;
}

/**
 * The loopback names a browser sends for Berth's own addresses: localhost,
 * 127.x.y.z and ::1, written the usual way. Other spellings of loopback
 * ([::ffff:127.0.0.1], [0:0:0:0:0:0:0:1]) are refused on purpose: no link
 * Berth makes uses them, and a narrow list leaves nothing to argue about.
 */
function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host === '::1' || (host.startsWith('127.') && CANONICAL_IPV4.test(host));
}

/** Why a request is refused before any route sees it: 400 for what no browser sends, 421 for another site's name. */
export interface Refusal {
  status: 400 | 421;
  message: string;
}

export interface RequestHead {
  method: string;
  /** The request target as sent: origin-form (/path), absolute-form (http://host/path) or *. */
  url: string;
  /** Header names and values as they came, in order (IncomingMessage.rawHeaders). */
  rawHeaders: readonly string[];
  origin?: string;
}

/**
 * The Host header and the request target, checked as a strict server checks
 * them: exactly one Host, well formed and Berth's own; an absolute-form
 * target only for that same authority; an Origin, when there is one, with
 * Berth's scheme and the port the Host names (a page on another local port,
 * or an https page, is not Berth's, whatever its host).
 */
export function refusalOf(head: RequestHead, configuredHost: string): Refusal | null {
  const hosts: string[] = [];
  for (let i = 0; i < head.rawHeaders.length; i += 2) if (head.rawHeaders[i]!.toLowerCase() === 'host') hosts.push(head.rawHeaders[i + 1]!);
  if (hosts.length > 1) return { status: 400, message: 'Bad request: more than one Host header.' };
  // HTTP/1.0 may leave Host out: such a request names no site of ours.
  if (hosts.length === 0) return { status: 421, message: MISDIRECTED };
  const parsed = parseHostHeader(hosts[0]);
  if (!parsed) return { status: 400, message: 'Bad request: the Host header is not a host name or address a browser would send.' };
  if (!head.url.startsWith('/') && !(head.url === '*' && head.method === 'OPTIONS')) {
    const authority = absoluteAuthority(head.url);
    if (!authority || authority.host !== parsed.host || (authority.port ?? 80) !== (parsed.port ?? 80)) {
      return { status: 400, message: 'Bad request: an absolute request target must be http:// and name the same host and port as the Host header.' };
    }
  }
  if (!hostAllowed(parsed.host, configuredHost)) return { status: 421, message: MISDIRECTED };
  if (head.origin !== undefined && head.origin !== 'null') {
    const origin = parseOrigin(head.origin);
    if (!origin || origin.scheme !== 'http:' || origin.port !== (parsed.port ?? 80)) {
      return { status: 400, message: 'Bad request: the Origin is not Berth’s (Berth is served over http:// on the port in the Host header).' };
    }
  }
  return null;
}

const MISDIRECTED = 'Misdirected request: Berth answers only to its own address (Host header refused).';

function absoluteAuthority(url: string): HostHeader | null {
  const m = /^http:\/\/([^/?#]*)/i.exec(url);
  return m ? parseHostHeader(m[1]) : null;
}

function parseOrigin(origin: string): { scheme: string; port: number } | null {
  try {
    const u = new URL(origin);
    return { scheme: u.protocol, port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 };
  } catch {
    return null;
  }
}

export type SiteVerdict = 'same-origin' | 'cross-site' | 'unknown';

/**
 * Whether a state-changing request comes from a page of another site.
 * Browsers send Sec-Fetch-Site (modern) and Origin (on POST); non-browser
 * clients such as the CLI send neither and are judged by their token alone.
 */
export function siteOf(headers: { origin?: string; 'sec-fetch-site'?: string; host?: string }): SiteVerdict {
  const fetchSite = headers['sec-fetch-site'];
  if (fetchSite) return fetchSite === 'same-origin' || fetchSite === 'none' ? 'same-origin' : 'cross-site';
  const origin = headers.origin;
  if (origin === undefined) return 'unknown';
  if (origin === 'null') return 'cross-site';
  try {
    const o = new URL(origin);
    return o.host.toLowerCase() === (headers.host ?? '').toLowerCase() ? 'same-origin' : 'cross-site';
  } catch {
    return 'cross-site';
  }
}

/** Compare tokens in constant time, so response timing reveals nothing about a guess. */
export function tokenMatches(candidate: string | undefined, token: string): boolean {
  if (!candidate) return false;
  const a = crypto.createHash('sha256').update(candidate).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

/**
 * The sign-in cookie's name for the Berth serving on `port`. Cookies ignore
 * ports (RFC 6265), so under one name two Berths on one host (127.0.0.1:8787
 * and :9000, a hosted app's Berth beside the default one) would overwrite
 * each other's cookie: signing in to one would sign the other's tabs out.
 */
export function cookieName(port: number): string {
  return `berth_token_${port}`;
}

/** Any Berth's sign-in cookie: any port's, or the portless `berth_token` of Berths before the port was in the name. */
export function isBerthCookie(name: string): boolean {
  return /^berth_token(?:_\d{1,5})?$/.test(name);
}

/** A Cookie header's cookies, in order, as [name, value] with %-encoding undone. */
export function parseCookies(cookieHeader: string | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const raw = part.slice(eq + 1).trim();
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // Broken %-encoding is a wrong token (401), not a server error (found by the hostile-input harness).
    }
    out.push([part.slice(0, eq).trim(), value]);
  }
  return out;
}

/**
 * Whether a Cookie header signs in to the Berth on `port` with `token`:
 * 'own' under this port's name; 'other' under another Berth cookie name
 * only (a tab that followed this Berth to a new port, or a cookie from
 * before the port was in the name: the token is the proof, not the name),
 * which the server then sets again under its own name; null when none does.
 */
export function cookieSignIn(cookieHeader: string | undefined, port: number, token: string): 'own' | 'other' | null {
  const own = cookieName(port);
  let found: 'own' | 'other' | null = null;
  for (const [name, value] of parseCookies(cookieHeader)) {
    if (!isBerthCookie(name) || !tokenMatches(value, token)) continue;
    if (name === own) return 'own';
    found = 'other';
  }
  return found;
}

/**
 * Where to send a tab after ?token= is taken out of its address: the same
 * path on this server. Leading slashes are collapsed, because "//evil.test"
 * (which "/.//evil.test" normalizes to) would be a redirect to another site.
 */
export function sameOriginLocation(pathname: string, search = ''): string {
  return '/' + pathname.replace(/^[/\\]+/, '') + search;
}

export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return m ? m[1] : undefined;
}
