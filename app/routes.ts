import type { ApiRoutes } from './server/web';
import { eventRoutes, type EventStreamDeps } from './events/routes';
import { lifecycleRoutes } from './lifecycle/routes';
import { logRoutes } from './logs/routes';
import { openCommandRoutes } from './runtime/routes';
import { settingsRoutes, type SettingsRouteDeps } from './settings/routes';

/** What Berth's own route groups are built from; each group takes the part it needs. */
export type CoreApiDeps = EventStreamDeps & SettingsRouteDeps;

/** A group of routes built from the core's dependencies. */
export type RouteGroup = (deps: CoreApiDeps) => ApiRoutes;

/**
 * Berth's own route groups, each in its feature's folder, registered under
 * /api by createBerth (app/berth.ts) for both the headless server and the
 * desktop app. createBerth adds the groups that need more than these
 * dependencies (updates, the hosted app, diagnostics). A hosted app brings
 * its routes through the public API (app/hosting, docs/HOSTING.md), not here.
 */
const groups: RouteGroup[] = [lifecycleRoutes, settingsRoutes, logRoutes, eventRoutes, openCommandRoutes];

export function coreApi(deps: CoreApiDeps): ApiRoutes {
  const routes = groups.map((group) => group(deps));
  return (api, ctx) => {
    for (const r of routes) r(api, ctx);
  };
}
