// The desktop app (package.json "main"): tray, window, updates and installers, from Berth.
import { startDesktopApp } from 'berth/desktop';
import app from './app';

startDesktopApp(app);
