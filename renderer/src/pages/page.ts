import { h, type Child } from '../dom';
import type { ConfirmOptions } from '../dialog';
import type { LiveLink } from '../live';

/** What every page gets from the shell. */
export interface PageContext {
  /** The event stream: latest status and update state, and live events. */
  live: LiveLink;
  confirm: (opts: ConfirmOptions) => Promise<boolean>;
}

/** A page of the UI, reached at `#/<id>` and listed in the navigation. */
export interface Page {
  id: string;
  title: string;
  render(ctx: PageContext): PageView;
}

export interface PageView {
  root: HTMLElement;
  /** Stop timers and listeners: called when the person leaves the page. */
  dispose?: () => void;
}

/** The frame every page shares: a heading the shell focuses on navigation, and a one-line lead. */
export function pageSection(id: string, title: string, lead: string, ...children: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'page', 'aria-labelledby': `${id}-title` },
    h('header', { class: 'page-head' }, h('h1', { id: `${id}-title`, tabindex: -1 }, title), h('p', { class: 'lead' }, lead)),
    ...children,
  );
}

/** A message area for the result of an action: errors are announced at once, other news politely. */
export function messageArea(): { el: HTMLElement; show: (kind: 'ok' | 'error' | 'info', text: string) => void; clear: () => void } {
  const el = h('div', { class: 'message', role: 'status', 'aria-live': 'polite', hidden: true });
  return {
    el,
    show(kind, text) {
      el.className = `message ${kind}`;
      el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
      el.textContent = text;
      el.hidden = false;
    },
    clear() {
      el.hidden = true;
      el.textContent = '';
    },
  };
}
