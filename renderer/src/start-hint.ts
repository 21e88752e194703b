import { h } from './dom';

/**
 * How to start Berth again, in the same words wherever the page says it (the
 * outage banners, the Stop confirmation): the exact command for a headless
 * Berth (from its status: as it runs there, with its flags), the menus for
 * the desktop app (null), or both when the page never heard which it is.
 */
export function howToStart(command: string | null | undefined, after = ' This page reconnects by itself once it is back.'): Node[] {
  const text = (s: string) => document.createTextNode(s);
  if (command) return [text('Start it again with '), h('code', { class: 'command' }, command), text(`.${after}`)];
  if (command === null) return [text(`Start it again from the Start menu (Windows), Applications (macOS) or your applications menu (Linux).${after}`)];
  return [text('Start it again from your applications menu, or with the '), h('code', null, 'serve'), text(` command of the berth program you started it with.${after}`)];
}
