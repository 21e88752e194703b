import { spawn } from 'node:child_process';
import { ExitCode } from '../errors';
import { describeFsError } from '../files/write';
import { signInUrl, TICKET_TTL_MS, writeSignInPage } from '../server/sign-in';
import { statusOf, tokenFor } from './api';
import { runningBerth, type Context } from './find';

/**
 * `berth open`: the running Berth's web UI in the browser, signed in once.
 * The browser is given a page in the data folder (app/server/sign-in.ts),
 * never the token: a launcher's command line is readable by every local user.
 */
export async function open(ctx: Context): Promise<number> {
  const target = await runningBerth(ctx);
  const token = tokenFor(ctx, target);
  // Asked first, so that a token from another data folder is said here (exit 2, as restart says it), not by a signed-out tab.
  await statusOf(ctx, target, token);
  const url = target.running.url;
  let page: string | null = null;
  let why = '';
  try {
    page = writeSignInPage(ctx.config.dataDir, url, token);
  } catch (err) {
    why = ` (the sign-in page could not be written in ${ctx.config.dataDir}: ${describeFsError(err)})`;
  }
  const opened = page ? await openInBrowser(page) : false;
  // Printed, never put on a command line: a link good for one sign-in, for a short while.
  const link = signInUrl(url, token);
  const minutes = Math.round(TICKET_TTL_MS / 60_000);
  ctx.out.result(
    opened ? `Opened ${url} in your browser, signed in.` : `Open this address in your browser within ${minutes} minutes; it signs one tab in${why}: ${link}`,
    { url, opened, link },
  );
  return ExitCode.ok;
}

function openInBrowser(fileUrl: string): Promise<boolean> {
  const [file, args] =
    process.platform === 'darwin' ? ['open', [fileUrl]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', fileUrl.replace(/&/g, '^&')]] : ['xdg-open', [fileUrl]];
  return new Promise<boolean>((resolve) => {
    const child = spawn(file as string, args as string[], { stdio: 'ignore', detached: true, windowsHide: true });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
