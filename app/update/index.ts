/**
 * Berth's self-update, Electron-free. One orchestration (UpdateService) drives
 * electron-updater in the desktop app, in headless `berth serve` (AppImage)
 * and in the tests.
 *
 * States (UpdateStatus.state): idle -> checking -> available -> downloading
 * (percent, bytesPerSecond, transferred, total) -> ready -> installing
 * (blockers: what it waits for) -> the port is handed over and the process
 * exits. Any failure -> error (a sentence a person can act on; the running
 * version is untouched). disabled (reason) when this copy cannot update itself.
 * Every status also carries channel and currentVersion; checkedAt,
 * releaseDate and notes when known.
 *
 * For the desktop shell (main/):
 *
 *   import { autoUpdater } from 'electron-updater';
 *   const swap = installingRelauncher(electronRelauncher);   // wraps the Relauncher built on app.relaunch
 *   const host = new ServerHost({ ..., relauncher: swap.relauncher });
 *   const updates = new UpdateService({
 *     updater: () => autoUpdater,                  // electron-updater's normal updater, built on first use
 *     currentVersion: app.getVersion(),
 *     settings: () => loadSettings(dataDir).settings.update,   // channel, url, allowPrerelease, autoCheck
 *     dataDir,
 *     hooks: swap.hooksFor(host),                  // see UpdateHooks
 *     // macOS: Squirrel.Mac has no install(); its quitAndInstall relaunches after exit.
 *     install: process.platform === 'darwin' ? (u) => (u.quitAndInstall(), true) : undefined,
 *     successorStartsBeforeExit: false,            // true only if the new version probes the port before
 *                                                  // it waits for the single-instance lock (AppImage)
 *     log: logs.root.child({ scope: 'update' }),
 *   });
 *   host.addRoutes(coreApi({ ..., feeds: [updateEvents(updates)] }));   // the `update` SSE event
 *   host.addRoutes(apiRequestBlockers(updates.blockers));             // writes in flight delay an install
 *   host.addRoutes(updateApi(updates));                               // GET /api/update, POST check, install
 *   updates.on('change', (s) => tray.showUpdate(s));
 *   updates.start();                                                  // automatic checks per settings
 *
 * UpdateHooks.handOver(apply, { successorStartsBeforeExit }) is what the
 * shell supplies: hand the port to the new version, calling apply() to start
 * electron-updater's installer (it throws if the installer could not start:
 * then serve on). installingRelauncher(...).hooksFor(host) does it through
 * ServerHost.relaunch: NSIS order (false) closes the listener, starts the
 * installer (which waits for this process to exit), drains and exits; AppImage
 * order (true) starts it while still serving and lets go of the port when the
 * new version probes it. With Electron, the host's 'exit' then ends in
 * app.exit(0); do not call quitAndInstall on Windows or Linux, install() has
 * already started the installer.
 *
 * Restart blockers: updates.blockers.hold('label') returns the release
 * function; an install waits until nothing holds, at most blockerWaitMs (30 s).
 * The new version learns whom it replaces from BERTH_HANDOFF in its
 * environment (takeHandoffEnv), since installers drop our arguments.
 */
export { UpdateService, type UpdateHooks, type HandOverOrder, type UpdateServiceOptions } from './service';
export { RestartBlockers, DEFAULT_BLOCKER_WAIT_MS, type BlockerWait } from './blockers';
export { type UpdateStatus, type UpdateStateName, channelOfVersion, downgradeAllowed, describeUpdateError } from './state';
export { NodeAppAdapter, createNodeHttpExecutor, useNodeHttp, type NodeHttpExecutor, type NodeAppAdapterOptions } from './node-adapter';
export { installingRelauncher, takeHandoffEnv, HANDOFF_ENV, type InstallingRelauncher } from './handoff';
export { updateApi, apiRequestBlockers, updateEvents } from './api';
export { HeadlessUpdates, headlessUpdaterFor, makeNodeUpdater, libraryLogger, DEFAULT_UPDATE_URL, UPDATER_CACHE_DIR_NAME, type HeadlessUpdater } from './headless';
