import type { Notification } from 'electron';
import type { ElectronModules } from './electron-modules';

/**
 * System notifications that still answer a click minutes later. The OS holds
 * a main-process Notification only weakly: one that nothing in the app
 * references is collected, and its click handler with it (electron#16922).
 * Each is kept here until it is clicked, closed or fails.
 */
export class Notifications {
  private readonly live = new Set<Notification>();

  constructor(private readonly e: Pick<ElectronModules, 'Notification'>) {}

  /** Show one; `onClick` runs when the person clicks it. Nothing happens where the system has no notifications. */
  show(title: string, body: string, onClick?: () => void): void {
    if (!this.e.Notification.isSupported()) return;
    const n = new this.e.Notification({ title, body });
    this.live.add(n);
    const done = () => this.live.delete(n);
    n.on('click', () => {
      done();
      onClick?.();
    });
    n.on('close', done);
    n.on('failed', done);
    n.show();
  }

  /** How many are shown and still held (tests, the log). */
  get held(): number {
    return this.live.size;
  }
}
