/**
 * Text that came from outside Berth (a foreign program's status line, a
 * Server header, a peer's /health fields), made safe to print on a terminal
 * or write as one log line: control characters, escape sequences, line
 * breaks and invisible direction marks become visible escapes, so a peer can
 * neither drive the terminal nor forge extra lines.
 */

// C0 controls, DEL, C1 controls (0x9b alone starts a sequence on some terminals),
// and the invisible Unicode format characters that reorder or hide text.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every unsafe character escaped, cut to `max` characters (the cut marked with …). */
export function visible(text: string, max = 200): string {
  const cut = text.length > max ? text.slice(0, max) + '…' : text;
  return cut.replace(UNSAFE, escapeOne);
}
