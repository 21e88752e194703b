import { describe, expect, it } from 'vitest';
import { successorArgs } from '../../app/lifecycle/relaunch';

describe('successorArgs', () => {
  it('replaces the previous handoff and drops --replace', () => {
    const args = successorArgs(['serve', '--replace', '--handoff', 'old', '--handoff-pid=1', '--json'], { instance: '-new', pid: 42 });
    expect(args).toEqual(['serve', '--json', '--handoff=-new', '--handoff-pid=42']);
  });

  it('relaunches where the server is now, not where its command line said (a move from Settings)', () => {
    const args = successorArgs(['serve', '--port', '8787', '--host=127.0.0.1', '--data-dir', '/d'], { instance: 'i', pid: 7, host: '0.0.0.0', port: 9000 });
    expect(args).toEqual(['serve', '--data-dir', '/d', '--host=0.0.0.0', '--port=9000', '--handoff=i', '--handoff-pid=7']);
  });
});
