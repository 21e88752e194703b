import type { BaseWindow, WindowSessionEndEvent } from 'electron';
import type { Logger } from '../app/log';

export interface SessionEndDeps {
  BaseWindow: typeof BaseWindow;
  log: Logger;
  /** Stop accepting connections, synchronously (the listening socket closes before this returns). */
  stopAccepting: () => void;
  /** Write the log out before returning. */
  flushLogSync: () => void;
  /** The ordinary quit (drain, then exit), for whatever time is left. */
  quit: (reason: string) => void;
}

/**
 * Windows logoff and shutdown. Windows tells windows, not apps: the events
 * are BaseWindow's 'query-session-end' and 'session-end' (electron.d.ts,
 * "@platform win32"), and Electron emits neither before-quit nor will-quit
 * then. A Berth started hidden at login has no window, so a window that is
 * never shown listens from start-up. After 'session-end' ("there is no way
 * to prevent the session from ending") Windows may end the process as soon
 * as the handler returns: only synchronous work there. The drain that
 * follows gets whatever time is left.
 */
export function listenForWindowsSessionEnd(d: SessionEndDeps): BaseWindow {
  const win = new d.BaseWindow({ show: false, width: 1, height: 1, skipTaskbar: true, focusable: false, title: 'Berth' });
  const reasons = (e: WindowSessionEndEvent) => (e?.reasons?.length ? e.reasons.join(', ') : 'no reason given');
  win.on('query-session-end', (e) => d.log.info(`Windows asks whether the session may end (${reasons(e)})`));
  win.on('session-end', (e) => {
    d.log.warn(`Windows is ending the session (${reasons(e)}): no longer accepting connections; the log is written out now`);
    d.stopAccepting();
    d.flushLogSync();
    d.quit(`Windows session end (${reasons(e)})`);
  });
  return win;
}
