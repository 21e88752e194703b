import type { LogSink } from '../log';
import type { ServerHost } from '../lifecycle/host';
import { readableLine } from '../logs/format';
import { lineOf } from '../logs/reader';
import { timeZoneOf } from '../logs/routes';
import type { ApiRoutes } from '../server/web';
import type { UpdateService } from '../update/service';
import { diagnosticsText } from './bundle';
import { dataFolderPaths, folderSecrets, lastLogLines, nowText, requestSecrets, settingsOf } from './gather';

/**
 * GET /api/diagnostics?tz=Europe/Berlin: the diagnostics text of this Berth
 * (bundle.ts), for the Status page's "Copy diagnostics" and `berth diagnose`.
 * It needs the token like every private read, and holds none.
 */
export function diagnosticsRoutes(deps: { host: ServerHost; updates: UpdateService | null; logs: LogSink; dataDir: string; token: string }): ApiRoutes {
  return (api, { requireToken }) => {
    api.get('/diagnostics', { preHandler: requireToken }, async (req, reply) => {
      const tz = timeZoneOf(req);
      const s = deps.host.status();
      const { settings, warnings } = settingsOf(deps.dataDir);
      const text = diagnosticsText({
        madeBy: (req.query as { by?: string }).by === 'cli' ? 'berth diagnose' : 'the Status page',
        version: s.version,
        desktop: !!process.versions.electron,
        paths: dataFolderPaths(deps.dataDir, s.logFile),
        settings,
        settingsWarnings: warnings,
        server: s,
        portChecks: s.startup,
        update: deps.updates ? (deps.updates.status() as unknown as Record<string, unknown>) : null,
        history: s.history,
        // Logs kept in memory only (the folder was not writable): those.
        logLines: s.logFile ? lastLogLines(deps.dataDir, tz) : deps.logs.ring.tail(200).map((e, i) => readableLine(lineOf(e, String(i)), tz)),
        secrets: [deps.token, ...folderSecrets(deps.dataDir, deps.token), ...requestSecrets(req.headers as { cookie?: string; authorization?: string })],
        now: nowText(tz),
      });
      return reply.header('Cache-Control', 'no-store').type('text/plain; charset=utf-8').send(text);
    });
  };
}
