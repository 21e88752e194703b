/**
 * Berth's public API for an app it hosts (`import { defineApp, runCli } from 'berth'`).
 * Everything an app author needs is exported here, types included; nothing
 * else in Berth is part of the API (docs/HOSTING.md walks through it).
 * The desktop shell is `berth/desktop`, the installer configuration `berth/builder`.
 */
import type { HostedApp } from './definition';

export { defineApp } from './definition';
export type { AppContext, AppDefinition, AppIcons, AppLogger, AppRoutes, AppState, ChildServerDefinition, ConsolePage, Guard, HostedApp, SettingsField } from './definition';

/**
 * The app's own command, headless: `<app> serve | status | stop | restart [--app] | open`,
 * with Berth's options (`--port`, `--host`, `--data-dir`, `--json`...). Resolves
 * with the exit code, or never for `serve` (it exits when the server does).
 * Call it from the app's `bin` script: `runCli(app).then((code) => process.exit(code))`.
 */
export function runCli(app: HostedApp, argv: string[] = process.argv.slice(2)): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the CLI loads its commands as it needs them
  const { run } = require('../cli') as typeof import('../cli');
  return run(argv, { app });
}
