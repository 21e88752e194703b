/**
 * Linux rpm (electron-builder's resources/package-type says "rpm"):
 * RpmUpdater downloads the package; Berth installs it while it still serves
 * (formats/package.ts), with the first package manager found in the order
 * RpmUpdater uses (zypper, dnf, yum, then rpm itself), with the same flags:
 * electron-builder's rpms are not signed.
 */
import type { FormatDefinition, UpdateFormat } from './format';
import { packageInstallStep, query, type PackageTool } from './package';
import { shQuote } from '../../shell-quote';

export const rpmTool: PackageTool = {
  kind: 'rpm',
  script: [
    'if command -v zypper >/dev/null 2>&1; then exec zypper --non-interactive --no-refresh install --allow-unsigned-rpm -f "$1"; fi',
    'if command -v dnf >/dev/null 2>&1; then exec dnf install --nogpgcheck -y "$1"; fi',
    'if command -v yum >/dev/null 2>&1; then exec yum install --nogpgcheck -y "$1"; fi',
    'exec rpm -U --replacepkgs "$1"',
  ].join('\n'),
  nameOf: async (file) => (await query('rpm', ['-qp', '--qf', '%{NAME}', file])) || null,
  async stateOf(name, version) {
    // rpm installs a package whole or not at all: there is no state in between to name.
    const installed = await query('rpm', ['-q', '--qf', '%{VERSION}', name]).catch(() => '');
    return { installed: installed === version, words: null };
  },
  byHand: (file) => `sudo dnf install ${shQuote(file)}`,
  finish: '',
  problem: (output) => /^.*(nothing provides [^\n]+|requires [^\n]+)$/m.exec(output)?.[1] ?? null,
};

export const rpmFormat: FormatDefinition = {
  name: 'rpm',
  updaterClass: 'RpmUpdater',
  matches: (f) => f.platform === 'linux' && !f.appImage && f.packageType === 'rpm',
  create: (o): UpdateFormat => ({
    name: 'rpm',
    label: 'rpm package',
    updaterClass: 'RpmUpdater',
    installStep: (updater, release) => packageInstallStep(rpmTool, updater, release, { elevate: o.elevate, log: o.log }),
  }),
};
