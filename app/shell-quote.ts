/**
 * A word for a POSIX shell (sh -c, or a command a person pastes): in single
 * quotes, each ' written as '\''. Nothing inside is special, so any text,
 * spaces, $, backquotes and newlines included, comes back as it was.
 */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
