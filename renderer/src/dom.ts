/**
 * A tiny element builder. Text always goes in as text nodes, never as HTML,
 * so data from the server (log lines, release notes) cannot inject markup.
 * There is deliberately no way to set `style`: the CSP allows stylesheets only.
 */
export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined;
export type Attrs = { [name: string]: AttrValue | ((ev: Event) => void) };

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (typeof value === 'function') {
        el.addEventListener(name.replace(/^on/, ''), value);
      } else if (name === 'style') {
        throw new Error('inline styles are blocked by the CSP; use a class');
      } else if (value === true) {
        el.setAttribute(name, '');
      } else if (value !== false && value !== null && value !== undefined) {
        el.setAttribute(name, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Set text only when it changed, so screen readers and selection are not disturbed by identical updates. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

let idCounter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix: string): string {
  return `${prefix}-${++idCounter}`;
}

/** An address with a port (127.0.0.1:8787, http://[::1]:8787, localhost:8787). */
const ADDRESS = /(?:https?:\/\/)?(?:\[[0-9a-f:.]+\]|[\w.-]+):\d{1,5}\b/gi;

/**
 * Text in which addresses never break across lines: each one is an
 * unbreakable span, and the words around it wrap as usual.
 */
export function addressText(text: string): Child[] {
  const parts: Child[] = [];
  let last = 0;
  for (const m of text.matchAll(ADDRESS)) {
    parts.push(text.slice(last, m.index), h('span', { class: 'nobreak' }, m[0]));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return parts.filter((p) => p !== '');
}
