/**
 * Where a link or redirect inside Berth's window may go. A pure function, so
 * the desktop window only routes Electron's events through it and the policy
 * itself is tested without Electron.
 *
 * - the server's own origin stays in the window;
 * - any other http(s) address opens in the default browser;
 * - everything else (file:, javascript:, data:, custom schemes, garbage) is blocked.
 */

export type NavigationVerdict = 'in-window' | 'external' | 'block';

/** 'navigate': the page is leaving for `target`; 'new-window': window.open or target=_blank. */
export type NavigationKind = 'navigate' | 'new-window';

export interface NavigationRequest {
  target: string;
  /** Where Berth serves right now, e.g. http://127.0.0.1:8787 */
  serverUrl: string;
  kind: NavigationKind;
}

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

const WEB_SCHEMES = new Set(['http:', 'https:']);

export function classifyNavigation({ target, serverUrl }: NavigationRequest): NavigationVerdict {
  const server = parse(serverUrl);
  const to = parse(target);
  if (!server || !to || !WEB_SCHEMES.has(to.protocol)) return 'block';
  // Credentials in a URL are a classic way to disguise where a link goes.
  if (to.username || to.password) return 'block';
  // URL.origin normalises default ports and letter case, so :80 and HTTP:// compare equal.
  if (to.origin === server.origin) return 'in-window';
  return 'external';
}
