/**
 * The host's states and the moves allowed between them, as data: every
 * transition the host makes is checked against this table, and the tests
 * read it directly.
 */
export type HostState = 'idle' | 'starting' | 'serving' | 'restarting' | 'relaunching' | 'draining' | 'stopped' | 'conflict';

export const TRANSITIONS: Readonly<Record<HostState, readonly HostState[]>> = {
  idle: ['starting'],
  starting: ['serving', 'stopped', 'conflict'],
  serving: ['restarting', 'relaunching', 'draining', 'conflict'],
  // An in-place restart never closes the socket: it ends serving, whatever happens.
  restarting: ['serving'],
  // A relaunch ends with the successor serving (we stop), or with us serving again, or with the port lost to another program.
  relaunching: ['serving', 'stopped', 'conflict'],
  draining: ['stopped'],
  stopped: ['starting'],
  // A conflict can be retried (start again) or given up (stop).
  conflict: ['starting', 'stopped'],
};

export function canMove(from: HostState, to: HostState): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

/** States in which the host holds a listening socket that answers. */
export function isServing(s: HostState): boolean {
  return s === 'serving' || s === 'restarting' || s === 'relaunching';
}
