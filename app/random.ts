/**
 * Random bytes from node:crypto, loaded when first needed: `berth status`,
 * `stop` and `open` reach the modules that make files and tokens (settings,
 * token) but never make one, and loading crypto is a measurable part of their
 * start (docs/STARTUP.md).
 */
export function randomBytes(n: number): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('node:crypto') as typeof import('node:crypto')).randomBytes(n);
}
