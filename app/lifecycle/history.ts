export interface HistoryEntry {
  /** recovered: a guardian (app/guardian) found no Berth serving after a handover, and started this one. */
  kind: 'start' | 'restart' | 'relaunch' | 'move' | 'recovered';
  at: string;
  /** Port unavailable for this long (listener closed to new listener open); 0 when the socket stayed open; null for a first start. */
  downtimeMs: number | null;
  detail?: string;
  /** Set when the operation failed and Berth kept (or went back to) serving. */
  failed?: string;
}

const KEEP = 200;

/** What happened to the port, oldest first; a relaunch passes it on to its successor through the handoff note. */
export class History {
  private readonly entries: HistoryEntry[] = [];

  add(entry: Omit<HistoryEntry, 'at'> & { at?: string }): HistoryEntry {
    const e = { ...entry, at: entry.at ?? new Date().toISOString() } as HistoryEntry;
    this.entries.push(e);
    if (this.entries.length > KEEP) this.entries.splice(0, this.entries.length - KEEP);
    return e;
  }

  /**
   * Carry on a predecessor's history (from its handoff note), with the
   * relaunch that made us completed by what we measured.
   */
  continueFrom(note: { history: HistoryEntry[]; closedAt: number | null; version: string; pid: number }, listenedAt: number, pid: number, version: string, how: string): HistoryEntry {
    const change = note.version && note.version !== version ? `updated ${note.version} -> ${version}, ` : '';
    this.entries.push(...note.history.filter((h) => !(h.kind === 'relaunch' && h.downtimeMs === null && !h.failed)));
    return this.add({
      kind: 'relaunch',
      at: new Date(listenedAt).toISOString(),
      downtimeMs: note.closedAt === null ? 0 : Math.max(0, Math.round((listenedAt - note.closedAt) * 100) / 100),
      detail: `${change}pid ${note.pid} -> pid ${pid}, ${how}`,
    });
  }

  recent(n = 50): HistoryEntry[] {
    return this.entries.slice(-n);
  }
}
