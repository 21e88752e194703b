import crypto from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../files/write';

/**
 * Signing a browser in without the token on any command line: whatever
 * starts a browser (xdg-open, open, cmd /c start, shell.openExternal) puts
 * its address in an argv that every local user can read in /proc/PID/cmdline.
 * As Jupyter does, Berth writes a small page into the data folder (mode 0600,
 * in a folder only you can enter) and opens that file: the page sends the
 * browser on to Berth with a sign-in ticket. The command line names only the
 * file, which no one else can read.
 *
 * The ticket is not the token: it is good for one sign-in, for two minutes,
 * and only with the Berth whose token made it (an HMAC keyed by the token),
 * so a page left behind, a browser history entry or a printed link is worth
 * nothing once used or old.
 */

export const TICKET_TTL_MS = 2 * 60_000;
export const SIGN_IN_PAGE = 'sign-in.html';

const keyOf = (token: string) => crypto.createHmac('sha256', token).update('berth sign-in ticket').digest();
const macOf = (token: string, body: string) => crypto.createHmac('sha256', keyOf(token)).update(body).digest('base64url');

/** A ticket that signs one browser in to the Berth holding `token`: "<expiry>.<nonce>.<mac>". */
export function mintTicket(token: string, now = Date.now()): string {
  const body = `${(now + TICKET_TTL_MS).toString(36)}.${crypto.randomBytes(16).toString('base64url')}`;
  return `${body}.${macOf(token, body)}`;
}

export type TicketVerdict = 'ok' | 'expired' | 'used' | 'invalid';

/** Tickets that signed a browser in, until they expire: each works once per process. */
const used = new Map<string, number>();

/** Check a ticket and use it up. */
export function redeemTicket(ticket: string, token: string, now = Date.now()): TicketVerdict {
  const m = /^([0-9a-z]{1,12})\.([\w-]{22})\.([\w-]{43})$/.exec(ticket);
  if (!m) return 'invalid';
  const body = `${m[1]}.${m[2]}`;
  const want = Buffer.from(macOf(token, body));
  const got = Buffer.from(m[3]!);
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return 'invalid';
  const expires = parseInt(m[1]!, 36);
  if (expires <= now || expires > now + TICKET_TTL_MS + 60_000) return 'expired';
  for (const [nonce, until] of used) if (until <= now) used.delete(nonce);
  if (used.has(m[2]!)) return 'used';
  used.set(m[2]!, expires);
  return 'ok';
}

/** The address that signs a browser in to the Berth at `url` (http://127.0.0.1:8787) once. */
export function signInUrl(url: string, token: string): string {
  return `${url.replace(/\/$/, '')}/?ticket=${mintTicket(token)}`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Write the sign-in page for the Berth at `url` into `dataDir` (0600, written
 * atomically, the one file replaced each time) and return its file:// URL,
 * the only thing to put on a command line.
 */
export function writeSignInPage(dataDir: string, url: string, token: string): string {
  const file = path.join(dataDir, SIGN_IN_PAGE);
  const target = escapeHtml(signInUrl(url, token));
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${target}">
<title>Opening Berth…</title>
</head>
<body>
<p>Opening Berth… If nothing happens, <a href="${target}">open Berth</a>.</p>
<p>This link signs in once and works for two minutes; to sign in again, run <code>berth open</code> or choose Open in browser from Berth's tray menu.</p>
</body>
</html>
`;
  writeFileAtomic(file, page, 0o600);
  return pathToFileURL(file).href;
}
