import { isLoopback } from '../addresses';
import { addressFlags, berthCommandLine, currentInvocation } from '../berth-command';
import type { ApiRoutes } from '../server/web';
import type { ServerHost } from '../lifecycle/host';

/**
 * GET /api/open-command: the command that opens this Berth signed in, as it
 * runs here, for the signed-out page (which cannot know the data folder or
 * where a source checkout is). Only for a page on this computer: the command
 * names local paths, and only someone on this computer can run it.
 */
export function openCommandRoutes(deps: { host: ServerHost; dataDir: string }): ApiRoutes {
  return (api) => {
    api.get('/open-command', async (req) => {
      if (!isLoopback(req.socket.remoteAddress ?? '')) return { command: null };
      const { host, port } = deps.host;
      return { command: berthCommandLine(['open', ...addressFlags({ host, port, dataDir: deps.dataDir })], currentInvocation(null)) };
    });
  };
}
