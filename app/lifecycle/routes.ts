import type { FastifyReply } from 'fastify';
import { afterResponse, type ApiRoutes } from '../server/web';
import { BerthError } from '../errors';
import { berthWords, currentInvocation } from '../berth-command';
import type { HistoryEntry, HostStatus, ServerHost } from './host';
import { replacementPlan } from './plans';
import { startCommand } from './start-command';

export interface StatusDeps {
  host: ServerHost;
  /**
   * How a person starts this Berth again, for a page that has lost it: the
   * `berth serve` command line (headless), or null for the desktop app
   * (started from the Start menu or Applications). Default: decided from this process.
   */
  startCommand?: (host: ServerHost) => string | null;
}

/** What /api/status and the `status` event carry: the host's status and how to start Berth again. */
export type StatusWithStart = HostStatus & { startCommand: string | null };

function ownStartCommand(host: ServerHost): string | null {
  if (process.versions.electron) return null;
  // The page may be read anywhere: the full path of a source checkout's bin/berth.js, not one relative to where it was started.
  return startCommand({ args: process.argv.slice(2), env: process.env, host: host.host, port: host.port, dataDir: host.status().dataDir, berth: berthWords(currentInvocation(null)) });
}

export function statusOf(deps: StatusDeps): StatusWithStart {
  const s = deps.host.status();
  return { ...s, startCommand: (deps.startCommand ?? ownStartCommand)(deps.host) };
}

/**
 * A restart or relaunch that did not happen: 409 when it could not start (this
 * Berth is busy with something else, or cannot relaunch itself), 500 when it
 * failed, with the history entry that says why.
 */
function failed(reply: FastifyReply, host: ServerHost, err: unknown, what: 'restart' | 'relaunch'): unknown {
  const message = err instanceof Error ? err.message : String(err);
  const entry = err instanceof BerthError ? (err.details.entry as HistoryEntry | undefined) : undefined;
  if (!entry) return reply.code(409).send({ error: `${what}-refused`, message });
  // state: serving when this process serves on (the usual case), conflict when it could not claim the port again.
  return reply.code(500).send({ error: `${what}-failed`, message, failed: entry.failed ?? message, entry, state: host.state });
}

/** GET /api/status; POST /api/restart, /api/relaunch, /api/stop, /api/handoff. */
export function lifecycleRoutes(deps: StatusDeps): ApiRoutes {
  return (api, { requireToken, log }) => {
    const { host } = deps;
    api.get('/status', { preHandler: requireToken }, async () => statusOf(deps));

    // Restart and relaunch answer once done, with the history entry: on failure too, with what failed, and
    // this process still serving (or, when the port could not be claimed again, saying so).
    api.post('/restart', { preHandler: requireToken }, async (_req, reply) => {
      try {
        const entry = await host.restart();
        return { restarted: entry.kind === 'relaunch' ? 'app' : 'server', entry, url: host.url, instance: host.instance, successor: host.successor };
      } catch (err) {
        return failed(reply, host, err, 'restart');
      }
    });

    api.post('/relaunch', { preHandler: requireToken }, async (_req, reply) => {
      // The drain that follows a handover must not cut this answer off.
      host.holdAnswer(reply.raw);
      try {
        const entry = await host.relaunch();
        return { restarted: 'app', entry, url: host.url, instance: host.instance, successor: host.successor };
      } catch (err) {
        return failed(reply, host, err, 'relaunch');
      }
    });

    api.post('/stop', { preHandler: requireToken }, async (_req, reply) => {
      afterResponse(reply.raw, () => host.stopAndExit(0), log);
      return reply.code(202).send({ accepted: 'stop', instance: host.instance, pid: process.pid });
    });

    // `berth serve --replace`: the newcomer asks for the port. Once this answer has left (it must not count as a
    // request in flight that the relaunch waits for), we leave it a handoff note: it shares our data directory, or
    // its token would not have worked. We let go of the port when it proves itself with the note's secret.
    api.post('/handoff', { preHandler: requireToken }, async (_req, reply) => {
      afterResponse(reply.raw, () => host.relaunch(replacementPlan()), log);
      return reply.code(202).send({ accepted: 'handoff', instance: host.instance, pid: process.pid });
    });
  };
}
