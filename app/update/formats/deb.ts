/**
 * Linux deb (electron-builder's resources/package-type says "deb"):
 * DebUpdater downloads the package; Berth installs it with dpkg while it
 * still serves (formats/package.ts). A dependency dpkg cannot satisfy is
 * handled as DebUpdater handles it, with `apt-get install -f`, in the same
 * privileged run, so there is one password prompt; --no-remove keeps apt-get
 * from removing Berth to "fix" it.
 */
import type { FormatDefinition, UpdateFormat } from './format';
import { packageInstallStep, query, type PackageTool } from './package';
import { shQuote } from '../../shell-quote';

/** dpkg's states in between, which a failed install can leave; "installed" and "not-installed" need no words. */
const STATES: Record<string, string> = {
  unpacked: 'unpacked but not configured',
  'half-configured': 'half-configured',
  'half-installed': 'half-installed',
  'config-files': 'removed (only its configuration files are left)',
  'triggers-awaited': 'installed, waiting for triggers',
  'triggers-pending': 'installed, with triggers pending',
};

export const dpkg: PackageTool = {
  kind: 'deb',
  script: [
    'dpkg -i "$1" && exit 0',
    'command -v apt-get >/dev/null 2>&1 || exit 1',
    'echo "berth-update: dpkg could not finish; apt-get install -f fetches what is missing" >&2',
    'apt-get install -f -y --no-remove',
  ].join('\n'),
  nameOf: async (file) => (await query('dpkg-deb', ['-f', file, 'Package'])) || null,
  async stateOf(name, version) {
    // "install ok unpacked 1.0.1": want, error flag, status, version.
    const out = await query('dpkg-query', ['-W', '-f=${Status} ${Version}', name]).catch(() => 'unknown ok not-installed -');
    const [, , status = 'not-installed', installed = ''] = out.split(' ');
    if (status === 'installed' || status === 'not-installed') return { installed: status === 'installed' && installed === version, words: null };
    return { installed: false, words: STATES[status] ?? status };
  },
  byHand: (file) => `sudo apt install ${shQuote(file)}`,
  finish: 'sudo apt-get install -f',
  problem: (output) => /^ *(\S+ depends on [^;\n]+)/m.exec(output)?.[1] ?? output.split('\n').find((l) => /error/i.test(l))?.trim() ?? null,
};

export const debFormat: FormatDefinition = {
  name: 'deb',
  updaterClass: 'DebUpdater',
  matches: (f) => f.platform === 'linux' && !f.appImage && f.packageType === 'deb',
  create: (o): UpdateFormat => ({
    name: 'deb',
    label: 'deb package',
    updaterClass: 'DebUpdater',
    installStep: (updater, release) => packageInstallStep(dpkg, updater, release, { elevate: o.elevate, log: o.log }),
  }),
};
