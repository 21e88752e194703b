/**
 * The one place an install format is chosen: from how this copy of Berth
 * was installed, the first format that matches. A new format (Flatpak,
 * pacman...) is one file beside this one and one line in FORMATS.
 */
import { appImageFormat } from './appimage';
import { debFormat } from './deb';
import type { FormatDefinition, FormatOptions, InstallFacts, UpdateFormat } from './format';
import { macFormat } from './mac';
import { nsisFormat } from './nsis';
import { rpmFormat } from './rpm';

export type { FormatOptions, InstallFacts, UpdateFormat, UpdaterClass } from './format';

const FORMATS: FormatDefinition[] = [appImageFormat, debFormat, rpmFormat, nsisFormat, macFormat];

/** The format this copy updates itself with, or why it does not update itself. */
export function chooseFormat(facts: InstallFacts, options: FormatOptions): { format: UpdateFormat } | { reason: string } {
  if (facts.snap) return { reason: 'Berth installed as a snap is updated by snapd, not by itself.' };
  const def = FORMATS.find((f) => f.matches(facts));
  if (def) return { format: def.create(options, facts) };
  if (facts.packageType) return { reason: `Berth installed from a ${facts.packageType} package is updated by the system's package manager, not by itself.` };
  if (facts.platform === 'darwin') return { reason: 'On macOS only the Berth app updates itself (Squirrel.Mac); `berth serve` is updated the way it was installed.' };
  return { reason: `Berth does not update itself on ${facts.platform}.` };
}
