import { spawn } from 'node:child_process';
import { ExitCode } from '../errors';
import { tokenFor } from './api';
import { runningBerth, type Context } from './find';

/** `berth open`: the running Berth's web UI in the browser, signed in once with the token. */
export async function open(ctx: Context): Promise<number> {
  const target = await runningBerth(ctx);
  const url = `${target.running.url}/?token=${encodeURIComponent(tokenFor(ctx, target))}`;
  const opened = await openInBrowser(url);
  ctx.out.result(opened ? `Opened ${target.running.url} in your browser.` : `Open this address in your browser (it signs the tab in once): ${url}`, { url, opened });
  return ExitCode.ok;
}

function openInBrowser(url: string): Promise<boolean> {
  const [file, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]] : ['xdg-open', [url]];
  return new Promise<boolean>((resolve) => {
    const child = spawn(file as string, args as string[], { stdio: 'ignore', detached: true, windowsHide: true });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
