/**
 * The HTTP side of the UI: typed calls to Berth's /api. The HttpOnly cookie
 * (set once from ?token=) rides along on every same-origin request, so no
 * token ever reaches this code.
 */
import type { HostStatus as CoreStatus, HistoryEntry, StartupProbe } from '../../app/lifecycle/host';
import type { FieldError, Settings } from '../../app/settings/settings';
import type { LogEntry, Level } from '../../app/log';
import type { LogLine, LogPage, LogQuery } from '../../app/logs/reader';
import type { UpdateStatus } from '../../app/update/state';

export type { HistoryEntry, StartupProbe, FieldError, Settings, LogEntry, Level, LogLine, LogPage, LogQuery };

/** GET /api/status and the `status` event: the host's status, and how to start this Berth again (null: the desktop app). */
export type HostStatus = CoreStatus & { startCommand: string | null };

/** The update state: GET /api/update and the `update` event. */
export type UpdateState = UpdateStatus;

export interface SettingsResponse {
  settings: Settings;
  warnings: string[];
  file: string;
}

export interface SavedSettings {
  settings: Settings;
  url: string;
  moved: boolean;
  /** Saved with keepForNextStart although Berth could not move there now. */
  kept?: boolean;
  message?: string;
}

export interface Session {
  authenticated: boolean;
  message: string;
}

/** A non-2xx answer, with the server's JSON body when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; message?: string; errors?: FieldError[]; [k: string]: unknown },
  ) {
    super(body.message ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }
}

/**
 * Words for a request that failed: the server's own message, or, when Berth
 * did not answer at all, plain words instead of the browser's "TypeError:
 * Failed to fetch".
 */
export function problemText(err: unknown, what = 'This'): string {
  if (err instanceof ApiError) return err.message;
  return `${what} could not be loaded because Berth is not answering. It loads by itself once Berth is back.`;
}

/** Called when any request comes back 401: the shell switches to the signed-out view. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    cache: 'no-store',
    credentials: 'same-origin',
    headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = {};
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, parsed as ApiError['body']);
  }
  return parsed as T;
}

export const api = {
  session: () => call<Session>('GET', '/api/session'),
  openCommand: () => call<{ command: string | null }>('GET', '/api/open-command'),
  signIn: (token: string) => call<Session>('POST', '/api/session', { token }),
  status: () => call<HostStatus>('GET', '/api/status'),
  restart: () => call<{ accepted: string }>('POST', '/api/restart'),
  relaunch: () => call<{ accepted: string }>('POST', '/api/relaunch'),
  stop: () => call<{ accepted: string }>('POST', '/api/stop'),
  settings: () => call<SettingsResponse>('GET', '/api/settings'),
  saveSettings: (patch: unknown) => call<SavedSettings>('PUT', '/api/settings', patch),
  /** A page of the log, newest first: see app/logs/routes.ts. */
  logs: (q: LogQuery & { before?: string | null; limit?: number; tz?: string }) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null) params.set(k, String(v));
    return call<LogPage & { file: string | null }>('GET', `/api/logs?${params}`);
  },
  update: () => call<UpdateState>('GET', '/api/update'),
  logDownloadUrl: '/api/logs/download',
  /** The diagnostics text (app/diagnostics), with times in `timeZone`. */
  diagnostics: async (timeZone: string): Promise<string> => {
    const res = await fetch(`/api/diagnostics?tz=${encodeURIComponent(timeZone)}`, { cache: 'no-store', credentials: 'same-origin' });
    const text = await res.text();
    if (!res.ok) {
      if (res.status === 401) onUnauthorized();
      let body: ApiError['body'] = { message: text.slice(0, 200) };
      try {
        body = JSON.parse(text) as ApiError['body'];
      } catch {
        // plain text
      }
      throw new ApiError(res.status, body);
    }
    return text;
  },
  checkForUpdate: () => call<unknown>('POST', '/api/update/check'),
  installUpdate: () => call<unknown>('POST', '/api/update/install'),
  retryDownload: () => call<UpdateState>('POST', '/api/update/retry'),
  cancelDownload: () => call<UpdateState>('POST', '/api/update/cancel'),
};
