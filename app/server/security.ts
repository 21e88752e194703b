import crypto from 'node:crypto';
import { isWildcard } from '../addresses';

/** Split a Host header into its host part, lower-cased, without brackets or port. */
export function hostOfHeader(header: string | undefined): string | null {
  if (!header) return null;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
    return h.slice(1, end);
  }
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(h);
  return m ? m[1]! : null;
}

/**
 * DNS-rebinding guard: a request is only served when its Host names this
 * machine's loopback or the host Berth was configured with. A page on
 * evil.test that rebinds its name to 127.0.0.1 still sends Host: evil.test.
 */
export function isAllowedHost(header: string | undefined, configuredHost: string): boolean {
  const host = hostOfHeader(header);
  if (host === null) return false;
  if (isLoopbackName(host)) return true;
  // A wildcard bind reaches the server through any local address, but the
  // allowlist stays names we know; LAN access uses the machine's address literally.
  if (isWildcard(configuredHost)) return isIpLiteral(host);
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
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
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

export const COOKIE_NAME = 'berth_token';

export function cookieValue(cookieHeader: string | undefined, name = COOKIE_NAME): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      // Broken %-encoding is a wrong token (401), not a server error (found by the hostile-input harness).
      return raw;
    }
  }
  return undefined;
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
