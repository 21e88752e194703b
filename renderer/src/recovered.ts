/**
 * The banner for what a guardian did (app/guardian): after a handover that
 * no Berth took up (Restart app, an update whose installer failed), the
 * guardian started Berth again, and this Berth's history says how. Shown
 * on every page until dismissed; a later relaunch that goes well ends it.
 */
import type { HistoryEntry, HostStatus } from './api';
import { h, setText } from './dom';

const DISMISSED = 'berth.recovered.dismissed';

function dismissed(): string | null {
  try {
    return localStorage.getItem(DISMISSED);
  } catch {
    return null;
  }
}

/** The newest guardian row this Berth recorded as it started (older ones belong to Berths before it). */
export function recoveredEntry(s: HostStatus): HistoryEntry | null {
  const e = s.history.findLast((x) => x.kind === 'recovered');
  return e && e.at >= s.startedAt && e.at !== dismissed() ? e : null;
}

export function recoveredBanner(): { root: HTMLElement; show(s: HostStatus): void } {
  const detail = h('span', { class: 'banner-detail' });
  let shown: HistoryEntry | null = null;
  const root = h(
    'div',
    { class: 'banner warn', id: 'recovered', role: 'status', hidden: true },
    h('strong', { class: 'banner-title' }, 'Berth was started again.'),
    detail,
    h(
      'button',
      {
        type: 'button',
        class: 'button small banner-close',
        onclick: () => {
          root.hidden = true;
          try {
            if (shown) localStorage.setItem(DISMISSED, shown.at);
          } catch {
            // storage refused (a private window): dismissed for this page only
          }
        },
      },
      'Dismiss',
    ),
  );
  return {
    root,
    show(s) {
      shown = recoveredEntry(s);
      root.hidden = !shown;
      setText(detail, shown?.detail ?? '');
    },
  };
}
