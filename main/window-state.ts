import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../app/files/write';
import { readOwnFile } from '../app/files/read';

/** Where the window was, in a small JSON file in userData (separate from settings.json, which people edit). */
export const WINDOW_STATE_FILE = 'window-state.json';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WindowState {
  /** Absent when the saved position is unknown or off every screen: the OS centres the window. */
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

export const DEFAULT_WINDOW: WindowState = { width: 1100, height: 760, maximized: false };
const MIN = { width: 480, height: 360 };
/** A window counts as reachable when at least this much of it is on some screen. */
const VISIBLE = { width: 100, height: 60 };

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && Math.round(v) === v;

function overlap(a: Rect, b: Rect): { width: number; height: number } {
  return {
    width: Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x),
    height: Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y),
  };
}

/**
 * The saved window state, checked against the screens there are now: a size
 * that makes no sense falls back to the default, and a position on a monitor
 * that has been unplugged is dropped so the window does not open out of reach.
 * Never throws: a missing or broken file only means default placement.
 */
export function loadWindowState(dir: string, displays: readonly Rect[]): WindowState {
  let raw: unknown;
  try {
    // Only a regular file of ours, and a small one: anything else means default placement.
    const read = readOwnFile(path.join(dir, WINDOW_STATE_FILE), { maxBytes: 64 * 1024 });
    raw = read.state === 'read' ? JSON.parse(read.text) : null;
  } catch {
    return { ...DEFAULT_WINDOW };
  }
  if (typeof raw !== 'object' || raw === null) return { ...DEFAULT_WINDOW };
  const o = raw as Record<string, unknown>;
  const state: WindowState = { ...DEFAULT_WINDOW, maximized: o.maximized === true };
  if (isInt(o.width) && isInt(o.height) && o.width >= MIN.width && o.height >= MIN.height && o.width <= 20_000 && o.height <= 20_000) {
    state.width = o.width;
    state.height = o.height;
  }
  if (isInt(o.x) && isInt(o.y)) {
    const rect = { x: o.x, y: o.y, width: state.width, height: state.height };
    const onScreen = displays.some((d) => {
      const o2 = overlap(rect, d);
      return o2.width >= VISIBLE.width && o2.height >= VISIBLE.height;
    });
    if (onScreen) {
      state.x = o.x;
      state.y = o.y;
    }
  }
  return state;
}

export function saveWindowState(dir: string, state: WindowState): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const data: WindowState = { width: Math.round(state.width), height: Math.round(state.height), maximized: state.maximized };
  if (state.x !== undefined && state.y !== undefined) {
    data.x = Math.round(state.x);
    data.y = Math.round(state.y);
  }
  writeFileAtomic(path.join(dir, WINDOW_STATE_FILE), JSON.stringify(data) + '\n', 0o644);
}
