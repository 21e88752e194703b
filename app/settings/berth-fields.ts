/**
 * Berth's own settings, as data: the one list that the server's validation
 * (settings.ts), the console's Settings page (renderer/src/pages/settings.ts)
 * and the README's settings table (checked by test/core/settings.test.ts) all
 * come from. Data only, with type imports alone, so the browser bundle can
 * take it as it is. A hosted app's fields have the same type (fields.ts).
 */
import type { SettingsField } from './fields';

/** When a saved change takes effect. */
export type Applies = 'moves' | 'at-once' | 'next-start' | 'next-check';

export const APPLIES_WORDS: Record<Applies, string> = {
  moves: 'at once: the server moves to it (a restart of the app if the new address overlaps the one in use)',
  'at-once': 'at once',
  'next-start': 'the next time Berth starts',
  'next-check': 'at the next update check',
};

export type BerthField = SettingsField & {
  /** The key path in settings.json: `port`, `update.channel`. */
  key: string;
  applies: Applies;
  /** Set by the page itself (the exposure question), not a control of the form. */
  formless?: true;
  /** Empty text is saved as null (meaning: none, use the build's). */
  emptyIsNull?: true;
};

export const BERTH_FIELDS = [
  {
    key: 'host',
    type: 'text',
    default: '127.0.0.1',
    label: 'Host',
    help: 'Where Berth listens: 127.0.0.1 (this computer only), 0.0.0.0 or :: (every address of this computer), or one address of this computer.',
    applies: 'moves',
  },
  { key: 'port', type: 'number', integer: true, min: 1, max: 65535, default: 8787, label: 'Port', help: 'Between 1 and 65535. Berth moves to the new port at once.', applies: 'moves' },
  { key: 'launchAtLogin', type: 'boolean', default: false, label: 'Start Berth when I log in', help: 'Applies to the desktop app.', applies: 'at-once' },
  {
    key: 'allowRemote',
    type: 'boolean',
    default: false,
    label: 'Allow other computers',
    help: 'Listening beyond loopback was chosen on purpose: the Settings page sets it when you confirm a network address.',
    applies: 'next-start',
    formless: true,
  },
  {
    key: 'update.channel',
    type: 'choice',
    default: 'latest',
    // The channel's own name first: settings.json, the README and the release feed all say `latest`.
    choices: [
      { value: 'latest', label: 'latest (stable releases)' },
      { value: 'beta', label: 'beta (early versions, may be rough)' },
    ],
    label: 'Update channel',
    applies: 'next-check',
  },
  { key: 'update.autoCheck', type: 'boolean', default: true, label: 'Check for updates automatically', help: 'Berth looks for new versions in the background and tells you when one is ready.', applies: 'next-check' },
  { key: 'update.allowPrerelease', type: 'boolean', default: false, label: 'Offer pre-release versions', applies: 'next-check' },
  {
    key: 'update.url',
    type: 'text',
    default: '',
    emptyIsNull: true,
    placeholder: 'Built into this version',
    label: 'Update server',
    help: 'Leave empty to use the server built into this version of Berth.',
    applies: 'next-check',
  },
] as const satisfies readonly BerthField[];

export type BerthFieldKey = (typeof BERTH_FIELDS)[number]['key'];

/** The field with this key path. */
export function berthField<K extends BerthFieldKey>(key: K): Extract<(typeof BERTH_FIELDS)[number], { key: K }> {
  return BERTH_FIELDS.find((f) => f.key === key) as Extract<(typeof BERTH_FIELDS)[number], { key: K }>;
}
