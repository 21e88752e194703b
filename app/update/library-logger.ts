import type { Logger } from '../log';

/**
 * electron-updater's logger interface over one of our scoped loggers, for the
 * headless and the desktop updater alike. The library logs failures as
 * "Error: <stack>": the console gets the first line, the log file the whole
 * text (as `detail`).
 */
export function libraryLogger(log: Logger) {
  const line = (level: 'info' | 'warn' | 'error') => (m?: unknown) => {
    const text = m instanceof Error ? (m.stack ?? m.message) : String(m);
    const [first = '', ...rest] = text.split('\n');
    const msg = first.replace(/^(Error: )+/, '');
    if (rest.length || msg !== first) log[level]({ detail: text }, msg);
    else log[level](msg);
  };
  return { info: line('info'), warn: line('warn'), error: line('error'), debug: (m: string) => log.debug(m) };
}
