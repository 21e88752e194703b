import type { Session } from 'electron';

/**
 * What the window's pages may ask the browser for: writing the clipboard
 * (the Copy buttons; navigator.clipboard.writeText asks for
 * 'clipboard-sanitized-write') from Berth's own origin, and nothing else:
 * no camera, notifications, geolocation, clipboard reading, and nothing at
 * all for a page or frame from anywhere else. Chromium asks both handlers
 * (a check, then a request when the check says no), so both answer alike.
 */
export function setPermissions(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>, ownOrigin: () => string | null): void {
  const allowed = (permission: string, url: string | undefined) => {
    if (permission !== 'clipboard-sanitized-write' || !url) return false;
    const own = ownOrigin();
    try {
      return own !== null && new URL(url).origin === own;
    } catch {
      return false;
    }
  };
  session.setPermissionRequestHandler((_wc, permission, callback, details) => callback(allowed(permission, details.requestingUrl)));
  session.setPermissionCheckHandler((_wc, permission, requestingOrigin) => allowed(permission, requestingOrigin));
}
