// electron-builder's configuration, derived from the app's definition by Berth
// (the same targets and installers as Berth's own): `npx electron-builder --config electron-builder.config.js`.
const { builderConfig } = require('berth/builder');

module.exports = builderConfig(require('./out/app').default, { electronDist: process.env.ELECTRON_DIST || undefined });
