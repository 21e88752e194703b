/**
 * The desktop entry point (package.json "main": out/main/index.js): Berth's
 * console alone. An app Berth hosts has its own entry that calls the same
 * startDesktopApp with its definition (main/hosted.ts, `berth/desktop`).
 */
import { startDesktopApp } from './hosted';

startDesktopApp();
