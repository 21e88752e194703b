// The configuration electron-builder is run with:
//
//   npx electron-builder --config electron-builder.config.js [--win|--mac|--linux] [--dir]
//
// Everything static lives in electron-builder.yml, which this file extends. This file only
// adds what depends on the environment, because YAML cannot express either:
//
//   BERTH_UPDATE_URL      where the app looks for updates (publish.url in the yml is
//                         ${env.BERTH_UPDATE_URL}, which electron-builder refuses to expand
//                         when the variable is unset). Default: https://updates.berth.invalid/
//                         (.invalid never resolves, so a local build just finds no updates).
//   BERTH_ELECTRON_DIST   an Electron distribution already on disk, for offline builds: an
//                         unpacked Electron directory, a directory holding
//                         electron-v<version>-<platform>-<arch>.zip, or such a zip. Unset:
//                         electron-builder downloads Electron as usual.
//   BERTH_E2E_BUILD=1     a test-only build for the desktop e2e suite, which Playwright drives
//                         through --inspect: that one fuse is left on (the yml turns it off
//                         with the others; electron-builder merges `extends` deeply). Never
//                         for a release.
'use strict';

const path = require('node:path');

const DEFAULT_UPDATE_URL = 'https://updates.berth.invalid/';

if (!process.env.BERTH_UPDATE_URL) {
  process.env.BERTH_UPDATE_URL = DEFAULT_UPDATE_URL;
}

/** @type {import("app-builder-lib").Configuration} */
const config = {
  extends: path.join(__dirname, 'electron-builder.yml'),
};

const electronDist = process.env.BERTH_ELECTRON_DIST;
if (electronDist) {
  config.electronDist = path.resolve(electronDist);
}

if (process.env.BERTH_E2E_BUILD === '1') {
  config.electronFuses = { enableNodeCliInspectArguments: true };
}

module.exports = config;
