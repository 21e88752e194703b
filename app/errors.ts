/**
 * Exit codes are part of Berth's contract (README "Exit codes"): scripts and the
 * desktop shell branch on them, so every expected failure carries one.
 */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  alreadyRunning: 3,
  portTaken: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An expected failure: a message a person can act on, and the exit code that goes with it. */
export class BerthError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'BerthError';
  }
}

export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
