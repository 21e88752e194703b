import type { ApiRoutes, RouteContext } from '../server/web';
import { BerthError } from '../errors';
import { checkAddress, type AddressCheck } from '../lifecycle/address-check';
import type { ServerHost } from '../lifecycle/host';
import { loadSettings, rememberRemoteChoice, saveSettings, validateSettings, type Settings } from './settings';

export interface SettingsRouteDeps {
  host: ServerHost;
  dataDir: string;
  /** Called after settings are saved, so the desktop shell can apply launch-at-login etc. */
  onSettingsSaved?: (settings: Settings) => void;
}

/** GET/PUT /api/settings: validated (400 with one message per field), saved atomically; a new address moves the server. */
export function settingsRoutes(deps: SettingsRouteDeps): ApiRoutes {
  return (api, { requireToken, log }) => {
    const { host } = deps;
    api.get('/settings', { preHandler: requireToken }, async () => {
      const loaded = loadSettings(deps.dataDir);
      return { settings: loaded.settings, warnings: loaded.warnings, file: loaded.file };
    });

    /**
     * A new address is checked before anything is written: host of this computer, port free, bind
     * works. One that fails is refused at its field (409 address-unavailable, with a free port to
     * offer), unless the request says `keepForNextStart: true`: then it is saved, unused, for the
     * next start. The server moves first and the file is written after, so settings.json never
     * holds an address that was refused. With `checkOnly: true` the same checks run and nothing
     * else happens: the page asks before it puts a question to the person about the address.
     */
    api.put('/settings', { preHandler: requireToken }, async (req, reply) => {
      const current = loadSettings(deps.dataDir).settings;
      // `keepForNextStart` and `checkOnly` are about this request, not settings: they are taken off before validation.
      const isObject = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body);
      const { keepForNextStart, checkOnly, ...fields } = (isObject ? req.body : {}) as Record<string, unknown>;
      const { value: valid, errors } = validateSettings(isObject ? fields : req.body, current);
      if (errors.length) return reply.code(400).send({ error: 'invalid-settings', message: errors.map((e) => e.message).join('; '), errors });
      // The page asked before sending a network address: this save is the opt-in the next start needs.
      const value = rememberRemoteChoice(valid, req.body);
      const save = () => {
        saveSettings(deps.dataDir, value);
        deps.onSettingsSaved?.(value);
      };
      // Move only when this save changed the address. A server started with --port or BERTH_PORT runs
      // elsewhere than the settings file says; saving the update channel must not move it.
      const addressChanged = value.host !== current.host || value.port !== current.port;
      const moving = addressChanged && (value.host !== host.host || value.port !== host.port);
      if (!moving) {
        if (checkOnly === true) return { ok: true, settings: value, url: host.url };
        save();
        return { settings: value, url: host.url, moved: false };
      }
      const where = `${value.host}:${value.port}`;
      const check = await checkAddress(value.host, value.port, { instance: host.instance });
      // `checkOnly`: the page asks before it puts the exposure question to the person. Only an address Berth can
      // take gets that question; nothing is saved or moved either way.
      if (checkOnly === true) {
        if (check.kind !== 'problem') return { ok: true, settings: value, url: host.url };
        record(host, log, check, where, `not moved, not saved: ${check.message}`);
        return reply.code(409).send(refusal(check, current, host.url));
      }
      if (check.kind === 'ours') {
        // The new address overlaps the one we hold (127.0.0.1 -> 0.0.0.0 on the same port): only a fresh start can switch.
        record(host, log, check, where, 'saved; a restart of the app switches to it');
        save();
        host.intendAddress(value.host, value.port);
        const message = `Berth cannot listen on ${value.host} port ${value.port} while it serves ${host.url} on the same port. The new address is saved; restart the app to use it.`;
        return reply.code(409).send({ error: 'restart-required', message, settings: value, url: host.url });
      }
      if (check.kind === 'problem') {
        if (keepForNextStart === true) {
          record(host, log, check, where, `kept for the next start; still serving ${host.url}`);
          save();
          return { settings: value, url: host.url, moved: false, kept: true, message: `${check.message} Saved anyway: Berth stays on ${host.url} and tries ${where} the next time it starts.` };
        }
        record(host, log, check, where, `not moved, not saved: ${check.message}`);
        return reply.code(409).send(refusal(check, current, host.url));
      }
      try {
        await host.moveTo(value.host, value.port);
      } catch (err) {
        // Taken in the moment between the check and the move: still nothing saved.
        const message = err instanceof BerthError ? err.message : String(err);
        host.recordProbe({ verdict: check.probe.verdict, what: 'taken after the check', action: `not moved, not saved: ${message}`, address: where, ms: 0 });
        return reply.code(409).send({ error: 'address-unavailable', message, errors: [{ field: 'port', message }], settings: current, url: host.url });
      }
      save();
      return { settings: value, url: host.url, moved: true };
    });
  };
}

/** The check's outcome in the Status page's "Port checks", and in the log. */
function record(host: ServerHost, log: RouteContext['log'], check: Exclude<AddressCheck, { kind: 'ok' }>, where: string, action: string): void {
  const probe = check.probe;
  if (!probe) {
    // The host is not an address of this computer: nothing was probed, no packet left the machine.
    host.recordProbe({ verdict: 'no-address', what: check.kind === 'problem' ? check.message : '', action, address: where, ms: 0 });
    log.info(`address check ${where}: not an address of this computer -> ${action}`);
    return;
  }
  let what: string;
  if (probe.verdict === 'free') what = check.kind === 'problem' && check.code ? `nothing answered, but the bind failed (${check.code})` : 'nothing';
  else if (probe.verdict === 'foreign' || probe.verdict === 'silent') what = probe.what;
  else what = `Berth ${probe.running.version} pid ${probe.running.pid} (${probe.running.state})`;
  host.recordProbe({ verdict: probe.verdict, what, action, address: `${probe.address}:${probe.port}`, ms: Math.round(probe.ms * 10) / 10 });
  log.info(`probe ${probe.address}:${probe.port}: ${probe.verdict} (${what}) -> ${action}`);
}

function refusal(check: Extract<AddressCheck, { kind: 'problem' }>, current: Settings, url: string) {
  const offer = check.freePort ? ` Port ${check.freePort} is free.` : '';
  return {
    error: 'address-unavailable',
    message: `Not saved: ${check.message}${offer}`,
    errors: [{ field: check.field, message: check.message }],
    freePort: check.freePort ?? null,
    settings: current,
    url,
  };
}
