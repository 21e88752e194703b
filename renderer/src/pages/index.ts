/**
 * The pages of the UI, in navigation order. To add your own page, write a
 * module that exports a `Page` (see page.ts and status.ts) and list it here:
 * it appears in the navigation and at `#/<id>`.
 */
import type { Page } from './page';
import { statusPage } from './status';
import { updatePage } from './update';
import { settingsPage } from './settings';
import { logsPage } from './logs';

export const pages: Page[] = [statusPage, updatePage, settingsPage, logsPage];
