// Notes: what Berth hosts. One definition: name, id, icons, the UI, the routes,
// the state that outlives a restart, a console page and settings.
import path from 'node:path';
import { defineApp, type AppRoutes } from 'berth';
import { NoteStore, type Carried } from './store';

const routes: AppRoutes<NoteStore> = (app, ctx) => {
  const notes = ctx.state;
  app.get('/api/notes', { preHandler: ctx.requireToken }, async () => ({ notes: notes.list(), settings: ctx.settings() }));

  app.post('/api/notes', { preHandler: ctx.requireToken }, async (req, reply) => {
    const { id, text } = (req.body ?? {}) as { id?: unknown; text?: unknown };
    if (typeof text !== 'string' || text.length > 100_000) return reply.code(400).send({ error: 'bad-note', message: 'A note is text, up to 100,000 characters.' });
    return notes.save(typeof id === 'string' ? id : null, text);
  });

  app.delete('/api/notes/:id', { preHandler: ctx.requireToken }, async (req, reply) => {
    const { id } = req.params as { id: string };
    return notes.remove(id) ? { deleted: id } : reply.code(404).send({ error: 'not-found', message: 'No such note.' });
  });

  // Live updates for every open tab: an event stream that resumes where it left off (Last-Event-ID).
  app.get('/api/notes/events', { preHandler: ctx.requireToken }, async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' });
    res.write('retry: 500\n\n');
    const after = Number(req.headers['last-event-id'] ?? -1);
    const off = notes.subscribe(Number.isFinite(after) ? after : -1, (e) => res.write(`id: ${e.seq}\nevent: ${e.kind}\ndata: ${JSON.stringify(e.note)}\n\n`));
    const end = () => {
      off();
      res.end();
    };
    req.raw.once('close', off);
    // A restart retires this generation: the stream ends, and the tab reconnects to the next one.
    ctx.onRetire(end);
  });
};

export default defineApp<NoteStore>({
  id: 'dev.berth.notes',
  name: 'Notes',
  version: '1.0.0',
  description: 'Notes kept on this computer, live in every open tab',
  port: 8790,
  icons: { png: path.join(__dirname, '..', 'build', 'icon.png') },
  updates: { url: 'https://updates.example.invalid/notes/' },
  ui: path.join(__dirname, '..', 'ui'),
  routes,
  state: {
    create: ({ dataDir, carried }) => new NoteStore(dataDir, carried as Carried | undefined),
    carry: (store) => store.carry(),
  },
  consolePages: [{ id: 'notes', title: 'Notes', module: '/console/notes-page.js' }],
  settings: [
    { key: 'confirmDelete', label: 'Ask before deleting a note', type: 'boolean', default: true },
    { key: 'fontSize', label: 'Text size', type: 'choice', default: 'medium', choices: [{ value: 'small', label: 'Small' }, { value: 'medium', label: 'Medium' }, { value: 'large', label: 'Large' }] },
  ],
});
