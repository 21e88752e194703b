import { BerthError, ExitCode } from '../errors';
import { diagnosticsText, scrub } from '../diagnostics/bundle';
import { dataFolderPaths, folderSecrets, lastLogLines, nowText, settingsOf, updateStateFile } from '../diagnostics/gather';
import { appVersion } from '../paths';
import { readToken } from '../server/token';
import { NoAnswer, request } from './api';
import { isBerth, look, where, type Context } from './find';
import { localTime } from './output';

/**
 * `berth diagnose`: the text to paste into an issue (diagnostics/bundle.ts).
 * From the running Berth when there is one this data folder's token reaches
 * (its history and port checks live in its memory), with what this command
 * saw added; otherwise from the data folder alone. Either way it is checked
 * once more here for the token and the handoff secret before it is printed.
 */
export async function diagnose(ctx: Context): Promise<number> {
  const { config } = ctx;
  const seen = await look(ctx);
  let token: string | null = null;
  try {
    token = readToken(config.dataDir);
  } catch {
    // a token file Berth will not trust: diagnose without asking the server
  }
  const secrets = folderSecrets(config.dataDir, token);
  const seenText = isBerth(seen)
    ? `Berth ${seen.running.version} pid ${seen.running.pid} (${seen.running.state}) answers on ${where(seen)}`
    : seen.verdict === 'free'
      ? `nothing answers on ${where(seen)}`
      : `${seen.verdict === 'foreign' || seen.verdict === 'silent' ? seen.what : 'something else'} answers on ${where(seen)}, not Berth`;

  let text: string | null = null;
  if (isBerth(seen) && token) {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    try {
      const res = await request(seen, token, 'GET', `/api/diagnostics?by=cli&tz=${encodeURIComponent(tz)}`, 15_000);
      if (res.status === 200 && typeof res.text === 'string') text = `${res.text.trimEnd()}\n\n### Seen from berth diagnose\n\n- ${seenText} (${localTime(Date.now())})\n`;
    } catch (err) {
      if (!(err instanceof NoAnswer) && !(err instanceof BerthError)) throw err;
    }
  }
  if (text === null) {
    const { settings, warnings } = settingsOf(config.dataDir);
    text = diagnosticsText({
      madeBy: 'berth diagnose',
      version: appVersion(),
      desktop: false,
      paths: dataFolderPaths(config.dataDir, null),
      settings,
      settingsWarnings: warnings,
      server: null,
      seen: isBerth(seen) ? `${seenText}; its data folder is not this one (no token here), so this text is made from ${config.dataDir}` : seenText,
      portChecks: [],
      update: updateStateFile(config.dataDir),
      history: [],
      logLines: lastLogLines(config.dataDir),
      secrets,
      now: nowText(),
    });
  }
  // Once more, here: the server's text too is checked for this folder's secrets.
  text = scrub(text, secrets);
  ctx.out.result(text.trimEnd(), { diagnostics: text });
  return ExitCode.ok;
}
