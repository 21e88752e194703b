/** Sends one named event to a page. */
export type Send = (event: string, data: unknown) => void;

/**
 * Where events come from (the host's status, the log, the update state):
 * called with a send function, it sends its current state at once, if it
 * has one, and returns its unsubscribe.
 */
export type EventSource = (send: Send) => () => void;

interface Page {
  send: Send;
  /** Tell the page Berth is going away, and end its stream. */
  close(): void;
}

/**
 * The pages connected to one event stream. Each source is subscribed once
 * for all of them while any is connected, and what it sends is written to
 * each: a hundred open pages cost one listener on each source, not a
 * hundred (Node warns of a leak past ten), and each event is built once.
 * The drain hook is one for all pages, too.
 */
export class Fanout {
  private readonly pages = new Set<Page>();
  private readonly subscribed = new Map<EventSource, () => void>();
  private drainHooked = false;
  private drained = false;

  /** `sources` is read at each new page, so the list may grow; `onDrain` runs its function once, when the server goes away. */
  constructor(
    private readonly sources: () => readonly EventSource[],
    private readonly onDrain: (fn: () => void) => void,
  ) {}

  get size(): number {
    return this.pages.size;
  }

  /** A page joins: it gets each source's current state, then every event. Returns its leaving. */
  add(page: Page): () => void {
    if (this.drained) {
      page.close();
      return () => {};
    }
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.onDrain(() => this.drain());
    }
    this.pages.add(page);
    for (const source of this.sources()) {
      const off = this.subscribed.get(source);
      // Subscribed already: a moment's subscription of the page's own gives it the current state.
      if (off) source(page.send)();
      else this.subscribed.set(source, source(this.broadcast));
    }
    return () => this.remove(page);
  }

  private readonly broadcast: Send = (event, data) => {
    for (const page of this.pages) page.send(event, data);
  };

  private remove(page: Page): void {
    if (!this.pages.delete(page) || this.pages.size > 0) return;
    for (const off of this.subscribed.values()) off();
    this.subscribed.clear();
  }

  private drain(): void {
    this.drained = true;
    for (const page of [...this.pages]) {
      this.remove(page);
      page.close();
    }
  }
}
