// A page of Notes in Berth's console (Status, Settings, Logs... and Notes):
// an ES module whose render(ctx) returns the page's element.
export function render(ctx) {
  const root = ctx.h('section', { class: 'card' }, ctx.h('h2', null, 'Notes'), ctx.h('p', { class: 'lead' }, 'Loading…'));
  ctx.api('GET', '/api/notes').then(
    ({ notes }) => {
      const chars = notes.reduce((n, note) => n + note.text.length, 0);
      root.lastChild.textContent = `${notes.length} note${notes.length === 1 ? '' : 's'}, ${chars} characters, kept in the data folder.`;
    },
    (err) => (root.lastChild.textContent = err.message),
  );
  return { root };
}
