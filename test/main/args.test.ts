import { describe, expect, it } from 'vitest';
import { parseDesktopArgs } from '../../main/args';

describe('desktop arguments', () => {
  it('reads its own flags and ignores Electron and Chromium switches around them', () => {
    const a = parseDesktopArgs(['/app/out/main/index.js', '--no-sandbox', '--inspect=0', '--hidden', '--port', '9001', '--host=127.0.0.2', '--data-dir', '/tmp/d', '--enable-features=X']);
    expect(a).toEqual({ hidden: true, handoff: null, handoffPid: null, host: '127.0.0.2', port: '9001', dataDir: '/tmp/d' });
  });

  it('reads a handoff in both spellings, including an instance id that starts with a dash', () => {
    expect(parseDesktopArgs(['--handoff', 'abc_123', '--handoff-pid', '42'])).toMatchObject({ handoff: 'abc_123', handoffPid: 42 });
    expect(parseDesktopArgs(['--handoff=-xY9', '--handoff-pid=7'])).toMatchObject({ handoff: '-xY9', handoffPid: 7 });
  });

  it('ignores a pid that is not a positive whole number, and a flag missing its value', () => {
    expect(parseDesktopArgs(['--handoff-pid', 'x1'])).toMatchObject({ handoffPid: null });
    expect(parseDesktopArgs(['--handoff-pid=-3'])).toMatchObject({ handoffPid: null });
    expect(parseDesktopArgs(['--port', '--hidden'])).toMatchObject({ port: undefined, hidden: true });
  });
});
