/**
 * Desktop notifications through the faithful stand-in: the OS holds a shown
 * notification only weakly, so one that nothing in the app references is
 * collected with its click handler (electron#16922).
 */
import { describe, expect, it } from 'vitest';
import { Notifications } from '../../main/notifications';
import { ROOT } from '../helpers';
import { LockRegistry, fakeElectron } from './fake-electron';

describe('notifications', () => {
  it('"update ready", clicked a while later, still reaches its handler; then it is let go', async () => {
    const fe = fakeElectron({ locks: new LockRegistry(), appPath: ROOT, argv: ['/e'] });
    const notifications = new Notifications(fe.modules);
    let clicked = 0;
    notifications.show('Berth update ready', 'Berth 1.0.1 has been downloaded. Restart Berth to update.', () => clicked++);
    expect(fe.notifications.map((n) => n.title)).toEqual(['Berth update ready']);
    expect(await fe.clickNotification('Berth update ready')).toBe(true);
    expect(clicked).toBe(1);
    expect(notifications.held).toBe(0);
  });
});
