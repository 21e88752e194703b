/**
 * The fuse wire a stand-in Electron binary carries, so electron-builder can
 * flip Berth's electronFuses in it (test/build/package.test.ts,
 * test/update/fixtures/artifacts.mjs). @electron/fuses finds the wire by its
 * sentinel; then come the wire version (1), its length, and one byte per fuse
 * ('1' on, '0' off), in FuseV1Options order.
 */
export const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';

/**
 * Electron's own defaults: RunAsNode on, cookie encryption off, NODE_OPTIONS
 * on, --inspect on, asar integrity off, only-from-asar off, browser V8
 * snapshot off, file: extra privileges on.
 */
export const ELECTRON_DEFAULT_FUSES = '10110001';

/** The wire as bytes, after a shell comment mark so a stand-in script never runs it. */
export function fuseWire() {
  return Buffer.concat([Buffer.from('# '), Buffer.from(FUSE_SENTINEL), Buffer.from([1, ELECTRON_DEFAULT_FUSES.length]), Buffer.from(ELECTRON_DEFAULT_FUSES), Buffer.from('\n')]);
}
