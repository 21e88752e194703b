/**
 * The Debian tools some suites need, in one list: which command comes from
 * which package, and which suites skip without it. The suites ask
 * toolsProblem(); the test run's global setup (test/global-setup.mjs) ends
 * the run with one line naming what was skipped and the apt-get command that
 * brings it back, and, where BERTH_REQUIRE_UPDATE_TOOLS=1 (the CI's Linux
 * test job), fails at once instead of skipping.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What each group needs: [command, Debian package]. */
export const TOOLS = {
  // electron-builder's AppImages, built offline (test/update/fixtures/artifacts.mjs).
  appimage: [
    ['mksquashfs', 'squashfs-tools'],
    ['unsquashfs', 'squashfs-tools'],
    ['desktop-file-validate', 'desktop-file-utils'],
  ],
  // electron-builder's mac zips.
  'mac-zip': [['7zz', '7zip']],
  // Real .deb packages and a package database of a test's own.
  deb: [
    ['dpkg-deb', 'dpkg'],
    ['dpkg-query', 'dpkg'],
  ],
  // Every shell script and workflow run block (scripts/shellcheck.mjs).
  shell: [['shellcheck', 'shellcheck']],
};

/**
 * How a suite says it needs a group, as it is written in its source: the
 * global setup finds the suites that skipped by these.
 */
const MARKERS = {
  appimage: [/appImageBuildProblem/, /buildProblem\('appimage'\)/],
  'mac-zip': [/macZipBuildProblem/, /buildProblem\('mac-zip'\)/],
  deb: [/toolsProblem\('deb'\)/],
  shell: [/toolsProblem\('shell'\)/],
};

export function which(cmd) {
  // What a fresh machine is missing, for the test of this very line (test/update/fixtures.test.ts).
  if ((process.env.BERTH_TEST_MISSING_TOOLS ?? '').split(',').includes(cmd)) return null;
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/bin']) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The packages a group misses here (empty: everything is there). */
export function missingPackages(group) {
  if (process.platform !== 'linux') return [];
  return [...new Set(TOOLS[group].filter(([cmd]) => !which(cmd)).map(([, pkg]) => pkg))];
}

/** Why a group's suites cannot run here, with the command that fixes it, or null. */
export function toolsProblem(group) {
  if (process.platform !== 'linux') return `${group} needs Linux tools`;
  const missing = TOOLS[group].filter(([cmd]) => !which(cmd));
  if (!missing.length) return null;
  return `${missing.map(([c]) => c).join(', ')} not found: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}`;
}

function testFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'fixtures') out.push(...testFiles(p));
    else if (e.isFile() && e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** The groups missing here, each with the suites that skip for it. */
export function skippedForTools() {
  if (process.platform !== 'linux') return [];
  const files = ['test', 'e2e'].flatMap((d) => testFiles(path.join(ROOT, d)));
  const out = [];
  for (const group of Object.keys(TOOLS)) {
    const packages = missingPackages(group);
    if (!packages.length) continue;
    const suites = files.filter((f) => MARKERS[group].some((m) => m.test(fs.readFileSync(f, 'utf8')))).map((f) => path.relative(ROOT, f));
    out.push({ group, packages, suites });
  }
  return out;
}

/** The one line a run ends with when suites were skipped for missing tools, or null. */
export function skippedLine() {
  const skipped = skippedForTools();
  if (!skipped.length) return null;
  const suites = [...new Set(skipped.flatMap((s) => s.suites))].sort();
  const packages = [...new Set(skipped.flatMap((s) => s.packages))];
  return `Skipped ${suites.length} suites for missing tools (${suites.join(', ')}); to run them: sudo apt-get install -y ${packages.join(' ')}`;
}
