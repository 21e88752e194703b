/**
 * `berth/builder`: electron-builder's configuration for an app Berth hosts,
 * derived from its definition. It extends Berth's own electron-builder.yml,
 * so an app is packaged the way Berth is (the same targets, installer
 * settings, fuses and update provider), with the app's id, name, icons and
 * update feed in place of Berth's. An app's electron-builder.config.js:
 *
 *   module.exports = require('berth/builder').builderConfig(require('./out/app').default);
 */
import path from 'node:path';
import { packageRoot } from '../paths';
import type { HostedApp } from './definition';

export interface BuilderOptions {
  /** The files of the app that go into app.asar (default: package.json, out/, ui/, build/). */
  files?: string[];
  /** An Electron distribution already on disk, for offline builds (electron-builder's electronDist). */
  electronDist?: string;
  /** The Electron version, when electron-builder cannot read it from the app's own node_modules. */
  electronVersion?: string;
}

/** A file name from the app's name: `Notes App` -> `notes-app`. */
export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** electron-builder's configuration (app-builder-lib's Configuration) for `app`. */
export function builderConfig(app: HostedApp, o: BuilderOptions = {}): Record<string, unknown> {
  const berth = packageRoot();
  const res = (f: string) => path.join(berth, 'build', f);
  const slug = slugOf(app.name);
  const icons = app.icons;
  const description = app.description ?? `${app.name}, hosted by Berth`;
  return {
    extends: path.join(berth, 'electron-builder.yml'),
    appId: app.id,
    productName: app.name,
    directories: { buildResources: path.join(berth, 'build'), output: 'dist' },
    files: o.files ?? ['package.json', 'out/**/*', 'ui/**/*', 'build/**/*'],
    extraMetadata: { desktopName: `${slug}.desktop` },
    ...(o.electronDist ? { electronDist: path.resolve(o.electronDist) } : {}),
    ...(o.electronVersion ? { electronVersion: o.electronVersion } : {}),
    publish: { provider: 'generic', url: app.updates?.url ?? 'https://updates.invalid/', channel: 'latest' },
    win: { icon: icons?.ico ?? icons?.png ?? res('icon.ico') },
    nsis: { shortcutName: app.name },
    mac: { icon: icons?.icns ?? icons?.png ?? res('icon.icns'), entitlements: res('entitlements.mac.plist'), entitlementsInherit: res('entitlements.mac.plist') },
    dmg: { background: res('background.png') },
    linux: {
      icon: icons?.png ?? res('icons'),
      executableName: slug,
      synopsis: description.slice(0, 80),
      description,
    },
  };
}
