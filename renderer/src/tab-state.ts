/**
 * What the tab itself says, for a person who is looking at another tab: the
 * title starts with the state ("Reconnecting… · Status · Berth") and the
 * icon carries a coloured dot for it. Live, Reconnecting, Offline, and
 * Update ready (read from the update state the event stream carries: the
 * update feed sets it, nothing else needs to).
 */
import type { LinkState, Outage } from './live';

export type TabState = 'live' | 'reconnecting' | 'offline' | 'update-ready' | 'connecting' | 'signed-out';

export const TAB_WORDS: Record<TabState, string> = {
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  'update-ready': 'Update ready',
  connecting: 'Connecting…',
  'signed-out': 'Signed out',
};

/** The badge on the icon: colour and a ring that keeps it visible on light and dark tab strips. */
const BADGES: Partial<Record<TabState, string>> = {
  live: '#17794a',
  reconnecting: '#c27a00',
  offline: '#6b7684',
  'update-ready': '#1c6690',
};

/** Pure: the tab's state from the link, how long it has been down, and whether an update waits. */
export function tabStateOf(link: LinkState, outage: Outage, updateReady: boolean): TabState {
  if (link === 'signed-out') return 'signed-out';
  if (link === 'stopped' || outage === 'gone') return 'offline';
  if (link === 'reconnecting') return 'reconnecting';
  if (link === 'connecting') return 'connecting';
  return updateReady ? 'update-ready' : 'live';
}

export function tabTitle(state: TabState, page: string | null): string {
  return [TAB_WORDS[state], page, 'Berth'].filter(Boolean).join(' · ');
}

let base: HTMLImageElement | null = null;
const drawn = new Map<TabState, string>();

/**
 * The app icon with the state's dot, as a data: address (the page's own
 * policy allows data: images, and it needs no request: it works while Berth
 * is away). Drawn once per state, from the icon loaded while Berth answered.
 */
function iconFor(state: TabState, iconUrl: string): string | null {
  const known = drawn.get(state);
  if (known) return known;
  if (!base) {
    base = new Image();
    base.src = iconUrl;
  }
  if (!base.complete || !base.naturalWidth) return null;
  const size = 64;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const g = canvas.getContext('2d');
  if (!g) return null;
  g.drawImage(base, 0, 0, size, size);
  const colour = BADGES[state];
  if (colour) {
    g.beginPath();
    g.arc(size - 14, size - 14, 12, 0, Math.PI * 2);
    g.fillStyle = colour;
    g.fill();
    g.lineWidth = 4;
    g.strokeStyle = '#ffffff';
    g.stroke();
  }
  const url = canvas.toDataURL('image/png');
  drawn.set(state, url);
  return url;
}

/** Show `state` in the tab: the title, and the icon once it can be drawn. */
export function showTabState(state: TabState, page: string | null, iconUrl: string): void {
  document.title = tabTitle(state, page);
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = document.createElement('link');
    link.rel = 'icon';
    document.head.append(link);
  }
  const apply = () => {
    const url = iconFor(state, iconUrl);
    if (!url) return false;
    link!.type = 'image/png';
    link!.href = url;
    link!.dataset.state = state;
    return true;
  };
  if (!apply()) base?.addEventListener('load', () => document.title === tabTitle(state, page) && apply(), { once: true });
}
