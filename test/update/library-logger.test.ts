import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogSink } from '../../app/log';
import { libraryLogger } from '../../app/update/library-logger';

describe("electron-updater's lines in Berth's log (headless and desktop alike)", () => {
  it('a failure reaches the console as its first line, and the log with its whole stack', async () => {
    const console = new PassThrough();
    let printed = '';
    console.on('data', (d) => (printed += d));
    const sink = createLogSink({ dir: null, console });
    const log = libraryLogger(sink.root.child({ scope: 'electron-updater' }));
    const err = new Error('getaddrinfo ENOTFOUND updates.example.test');
    log.error(err);
    log.error(`Error: ${err.stack}`);
    log.info('Checking for update');
    await sink.close();

    const entries = sink.ring.tail(10);
    expect(entries.map((e) => [e.level, e.scope, e.msg])).toEqual([
      ['error', 'electron-updater', 'getaddrinfo ENOTFOUND updates.example.test'],
      ['error', 'electron-updater', 'getaddrinfo ENOTFOUND updates.example.test'],
      ['info', 'electron-updater', 'Checking for update'],
    ]);
    expect(entries[0]!.detail).toBe(err.stack);
    expect(entries[2]!.detail).toBeUndefined();
    expect(printed.trim().split('\n')).toHaveLength(3);
    expect(printed).not.toMatch(/\n\s+at /);
    expect(printed).not.toContain('Error: Error:');
  });
});
