// Test servers on loopback that can always be closed (plain JavaScript: the
// standalone e2e update server imports it too).

/**
 * Listen on `host:port`, and return a close() that also ends connections
 * still open (a keep-alive client, a download cut short), so a test never
 * waits for a client to let go.
 * @param {import('node:net').Server} server
 * @param {{ host: string, port: number, connectionEvent?: string }} at
 *   connectionEvent: 'secureConnection' for a TLS server.
 * @returns {Promise<() => Promise<void>>}
 */
export async function listenClosable(server, { host, port, connectionEvent = 'connection' }) {
  const sockets = new Set();
  server.on(connectionEvent, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, resolve);
  });
  return () => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
}
