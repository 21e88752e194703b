// Bookmarks: a Python web server (server.py) that Berth starts, restarts and
// proxies to behind its own port. Plain JavaScript: nothing to compile.
const path = require('node:path');
const { defineApp } = require('berth');

// Packaged, server.py sits beside app.asar (asarUnpack below): Python cannot read files inside the archive.
const here = __dirname.replace(/app\.asar(?=$|[\\/])/, 'app.asar.unpacked');

module.exports = defineApp({
  id: 'dev.berth.bookmarks',
  name: 'Bookmarks',
  version: require('./package.json').version,
  description: 'Bookmarks kept on this computer, served by Python',
  port: 8791,
  icons: { png: path.join(here, 'build', 'icon.png') },
  server: {
    // BERTH_PYTHON picks an interpreter; by default the one on PATH.
    command: process.env.BERTH_PYTHON || (process.platform === 'win32' ? 'python' : 'python3'),
    args: [path.join(here, 'server.py')],
    readyPath: '/healthz',
  },
});
