/**
 * builder-util-runtime, exactly the copy electron-updater loads: the updater
 * recognises its errors with `instanceof` (HttpError for a 404,
 * CancellationError for a cancelled download), so anything built on a second
 * copy would be mistaken for something else. Loaded on first use: a
 * relaunching server binds before it needs the updater.
 */
import path from 'node:path';
import type * as BuilderUtilRuntime from 'builder-util-runtime';

export type Runtime = typeof BuilderUtilRuntime;

let loaded: Runtime | null = null;

export function runtime(): Runtime {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require(require.resolve('builder-util-runtime', { paths: [path.dirname(require.resolve('electron-updater'))] })) as Runtime);
}
