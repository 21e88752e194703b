// The notes themselves: kept in one JSON file in the data folder, written
// atomically, with a numbered event for every change so open tabs stay live.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface Note {
  id: string;
  text: string;
  updatedAt: string;
}

export interface NoteEvent {
  seq: number;
  kind: 'saved' | 'deleted';
  note: Note;
}

/** What one process hands the next (the `carry` hook): the event numbering and the latest events. */
export interface Carried {
  seq: number;
  recent: NoteEvent[];
}

const KEEP_EVENTS = 200;

export class NoteStore {
  private notes = new Map<string, Note>();
  private seq: number;
  private recent: NoteEvent[];
  private readonly listeners = new Set<(e: NoteEvent) => void>();
  private readonly file: string;

  constructor(dataDir: string, carried?: Carried) {
    this.file = path.join(dataDir, 'notes.json');
    try {
      for (const n of JSON.parse(fs.readFileSync(this.file, 'utf8')) as Note[]) this.notes.set(n.id, n);
    } catch {
      // no notes yet
    }
    this.seq = carried?.seq ?? 0;
    this.recent = carried?.recent ?? [];
  }

  list(): Note[] {
    return [...this.notes.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  save(id: string | null, text: string): Note {
    const note = { id: id ?? crypto.randomUUID(), text, updatedAt: new Date().toISOString() };
    this.notes.set(note.id, note);
    this.write();
    this.publish('saved', note);
    return note;
  }

  remove(id: string): boolean {
    const note = this.notes.get(id);
    if (!note) return false;
    this.notes.delete(id);
    this.write();
    this.publish('deleted', note);
    return true;
  }

  /** Events after `seq` (a tab that reconnects with Last-Event-ID misses nothing), then every new one. */
  subscribe(after: number, fn: (e: NoteEvent) => void): () => void {
    for (const e of this.recent) if (e.seq > after) fn(e);
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  carry(): Carried {
    return { seq: this.seq, recent: this.recent };
  }

  private publish(kind: NoteEvent['kind'], note: Note): void {
    const e = { seq: ++this.seq, kind, note };
    this.recent = [...this.recent.slice(-(KEEP_EVENTS - 1)), e];
    for (const fn of this.listeners) fn(e);
  }

  private write(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.list(), null, 1), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}
