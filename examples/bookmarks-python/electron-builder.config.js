// electron-builder's configuration, derived from the app's definition by Berth.
const { builderConfig } = require('berth/builder');

module.exports = {
  ...builderConfig(require('./app'), { files: ['package.json', '*.js', 'server.py', 'build/**/*'], electronDist: process.env.ELECTRON_DIST || undefined }),
  // Python reads server.py from disk, not from inside app.asar.
  asarUnpack: ['server.py', 'build/icon.png'],
};
