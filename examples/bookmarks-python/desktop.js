// The desktop app (package.json "main"): tray, window, updates and installers, from Berth.
require('berth/desktop').startDesktopApp(require('./app'));
