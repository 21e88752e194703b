/**
 * Release notes arrive as plain text or as HTML from the release feed. They
 * are rebuilt from an allowlist of structural elements with no attributes at
 * all (no links, no styles, no handlers), so a feed can format notes but can
 * never put script, style or remote content on this page.
 */
import { h } from './dom';

const KEEP = new Set(['P', 'UL', 'OL', 'LI', 'STRONG', 'B', 'EM', 'I', 'CODE', 'PRE', 'BR', 'BLOCKQUOTE']);
const HEADINGS = new Set(['H1', 'H2', 'H3', 'H4', 'H5', 'H6']);

export function releaseNotes(notes: string): HTMLElement {
  const box = h('div', { class: 'notes' });
  if (!/<[a-z][\s\S]*>/i.test(notes)) {
    // Plain text: keep paragraphs.
    for (const para of notes.split(/\n{2,}/)) if (para.trim()) box.append(h('p', null, para.trim()));
    return box;
  }
  // DOMParser builds an inert document: nothing in it runs or loads.
  const doc = new DOMParser().parseFromString(notes, 'text/html');
  copySafe(doc.body, box);
  return box;
}

function copySafe(from: Node, to: Node): void {
  for (const node of Array.from(from.childNodes)) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.appendChild(document.createTextNode(node.textContent ?? ''));
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const tag = (node as Element).tagName;
      if (tag === 'SCRIPT' || tag === 'STYLE' || tag === 'TEMPLATE') continue;
      if (KEEP.has(tag) || HEADINGS.has(tag)) {
        const el = document.createElement(HEADINGS.has(tag) ? 'h4' : tag.toLowerCase());
        copySafe(node, el);
        to.appendChild(el);
      } else {
        // Anything else (a, img, div, span...) contributes its text only.
        copySafe(node, to);
      }
    }
  }
}
