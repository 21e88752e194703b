// The Notes page: the list, a form to add one, and live updates from every other tab.
const list = document.getElementById('notes');
const live = document.getElementById('live');
const message = document.getElementById('message');
const notes = new Map();
let settings = { confirmDelete: true, fontSize: 'medium' };

async function call(method, path, body) {
  const res = await fetch(path, { method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  if (res.status === 401) throw new Error('Not signed in: open Notes from its tray menu, or run `notes open`.');
  if (!res.ok) throw new Error((await res.json()).message);
  return res.json();
}

function show(text) {
  message.textContent = text;
  message.hidden = !text;
}

function render() {
  list.replaceChildren(
    ...[...notes.values()]
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
      .map((n) => {
        const li = document.createElement('li');
        const p = document.createElement('p');
        p.textContent = n.text;
        const del = document.createElement('button');
        del.textContent = 'Delete';
        del.onclick = async () => {
          if (settings.confirmDelete && !confirm('Delete this note?')) return;
          await call('DELETE', `/api/notes/${encodeURIComponent(n.id)}`).catch((e) => show(e.message));
        };
        li.append(p, del);
        return li;
      }),
  );
}

document.getElementById('new').onsubmit = async (e) => {
  e.preventDefault();
  const text = document.getElementById('text');
  if (!text.value.trim()) return;
  await call('POST', '/api/notes', { text: text.value })
    .then(() => (text.value = ''))
    .catch((err) => show(err.message));
};

try {
  const first = await call('GET', '/api/notes');
  settings = first.settings;
  document.body.className = settings.fontSize;
  for (const n of first.notes) notes.set(n.id, n);
  render();
  // EventSource reconnects by itself (after a restart, or a relaunch) and resumes with Last-Event-ID.
  const events = new EventSource('/api/notes/events');
  events.onopen = () => (live.textContent = 'Live');
  events.onerror = () => (live.textContent = 'Reconnecting…');
  events.addEventListener('saved', (e) => {
    const n = JSON.parse(e.data);
    notes.set(n.id, n);
    render();
  });
  events.addEventListener('deleted', (e) => {
    notes.delete(JSON.parse(e.data).id);
    render();
  });
} catch (err) {
  show(err.message);
}
