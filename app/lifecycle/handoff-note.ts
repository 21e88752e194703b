import fs from 'node:fs';
import path from 'node:path';
import type { HistoryEntry } from './host';

/**
 * What a relaunching Berth leaves for its successor in the data directory:
 * its history (restarts, moves, earlier relaunches) and the moment it closed
 * the listener, so the successor can show the whole story and the relaunch's
 * downtime. The history would otherwise end with the process.
 */
export interface HandoffNote {
  from: string;
  pid: number;
  version: string;
  /** Wall-clock ms when the predecessor closed its listener (both processes share the clock). */
  closedAt: number;
  history: HistoryEntry[];
}

export const HANDOFF_NOTE_FILE = 'handoff-history.json';

/**
 * Written just before the listener closes, so it is on disk before the
 * successor can bind. No fsync: this sits between closing and the
 * successor's bind, and a note lost to a power cut only costs history.
 */
export function leaveHandoffNote(dataDir: string, note: HandoffNote): void {
  const file = path.join(dataDir, HANDOFF_NOTE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(note), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/** Read and remove the note, if it was left by the instance we replace; any other note is stale and removed too. */
export function takeHandoffNote(dataDir: string, from: string): HandoffNote | null {
  const file = path.join(dataDir, HANDOFF_NOTE_FILE);
  let note: HandoffNote | null = null;
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<HandoffNote>;
    if (parsed.from === from && typeof parsed.closedAt === 'number' && Array.isArray(parsed.history)) note = parsed as HandoffNote;
  } catch {
    return null;
  }
  fs.rmSync(file, { force: true });
  return note;
}

/** The successor's history: the predecessor's, with its pending relaunch entry completed by what the successor measured. */
export function historyAfterHandoff(note: HandoffNote, listenedAt: number, pid: number, version: string): HistoryEntry[] {
  const earlier = note.history.slice();
  const last = earlier.at(-1);
  if (last?.kind === 'relaunch' && last.downtimeMs === null) earlier.pop();
  const change = note.version !== version ? `updated ${note.version} -> ${version}, ` : '';
  return [
    ...earlier,
    {
      kind: 'relaunch',
      at: new Date(listenedAt).toISOString(),
      downtimeMs: Math.max(0, Math.round((listenedAt - note.closedAt) * 100) / 100),
      detail: `${change}pid ${note.pid} -> pid ${pid}`,
    },
  ];
}
