"""Bookmarks: a small web app in Python (standard library only), hosted by Berth.

Berth starts it as a child process and proxies to it from its own port. It
listens where Berth says, privately:

- BERTH_APP_SOCKET: a Unix socket in a private folder of the data folder; or
- BERTH_APP_HOST / BERTH_APP_PORT: a loopback port, and then every request
  must carry the header named in BERTH_APP_SECRET_HEADER with the value of
  BERTH_APP_SECRET (other local users can reach a loopback port).

Bookmarks are kept in BERTH_APP_DATA_DIR/bookmarks.json. It stops on SIGTERM,
and when its standard input closes (Berth is gone, however it ended).
"""

import html
import hmac
import json
import os
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DATA_DIR = os.environ.get("BERTH_APP_DATA_DIR", ".")
STORE = os.path.join(DATA_DIR, "bookmarks.json")
SECRET = os.environ.get("BERTH_APP_SECRET", "")
SECRET_HEADER = os.environ.get("BERTH_APP_SECRET_HEADER", "x-berth-app-secret")
STARTED = time.time()
lock = threading.Lock()


def load():
    try:
        with open(STORE, encoding="utf-8") as f:
            items = json.load(f)
        return items if isinstance(items, list) else []
    except (OSError, ValueError):
        return []


def save(items):
    # Written beside the file and renamed over it: a crash leaves the old list or the new, never half of one.
    fd, tmp = tempfile.mkstemp(dir=DATA_DIR, prefix=".bookmarks-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(items, f)
    os.replace(tmp, STORE)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bookmarks</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Bookmarks</h1>
<form method="post" action="/bookmarks"><label>Address <input name="url" type="url" required></label>
<label>Title <input name="title"></label> <button>Add</button></form>
<ul>{items}</ul><p><small>Served by Python {version}, pid {pid}.</small></p></main></body></html>
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Berth's proxy reuses its connections
    server_version = "Bookmarks/1.0"

    def log_message(self, fmt, *args):
        # One line per request on stderr, which Berth writes into its log.
        sys.stderr.write("%s %s\n" % (self.command, fmt % args))

    def allowed(self):
        if not SECRET:
            return True
        given = self.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(given.encode(), SECRET.encode())

    def send(self, status, body, content_type="application/json"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if not self.allowed():
            return self.send(403, '{"error":"forbidden"}')
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            return self.send(200, json.dumps({"ok": True, "pid": os.getpid(), "uptime": time.time() - STARTED}))
        if path == "/api/bookmarks":
            with lock:
                return self.send(200, json.dumps(load()))
        if path == "/":
            with lock:
                items = "".join(
                    '<li><a href="%s">%s</a></li>' % (html.escape(b["url"]), html.escape(b.get("title") or b["url"]))
                    for b in load()
                )
            return self.send(200, PAGE.format(items=items, version=sys.version.split()[0], pid=os.getpid()), "text/html; charset=utf-8")
        return self.send(404, '{"error":"not-found"}')

    def do_POST(self):
        if not self.allowed():
            return self.send(403, '{"error":"forbidden"}')
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            try:
                fields = json.loads(raw or "{}")
            except ValueError:
                return self.send(400, '{"error":"not-json"}')
        else:
            fields = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        url = str(fields.get("url", "")).strip()
        if not url.startswith(("http://", "https://")):
            return self.send(400, json.dumps({"error": "bad-url", "message": "An address starts with http:// or https://"}))
        with lock:
            items = load()
            items.append({"url": url, "title": str(fields.get("title", "")).strip()[:200]})
            save(items)
        if self.path.startswith("/api/"):
            return self.send(201, json.dumps(items[-1]))
        self.send_response(303)
        self.send_header("Location", "/")
        self.send_header("Content-Length", "0")
        self.end_headers()


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128  # the default of 5 turns a burst of connections away

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("local", 0)  # BaseHTTPRequestHandler expects an address pair


def main():
    socket_path = os.environ.get("BERTH_APP_SOCKET")
    if socket_path:
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        server = UnixServer(socket_path, Handler)
        where = socket_path
    else:
        host = os.environ.get("BERTH_APP_HOST", "127.0.0.1")
        port = int(os.environ.get("BERTH_APP_PORT", "8000"))
        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer.request_queue_size = 128
        server = ThreadingHTTPServer((host, port), Handler)
        where = "%s:%d" % (host, port)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)

    def watch_stdin():
        # Berth keeps our standard input open: end-of-file means it is gone.
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("bookmarks: serving on %s (pid %d)" % (where, os.getpid()), flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    if socket_path and os.path.exists(socket_path):
        os.unlink(socket_path)
    print("bookmarks: stopped", flush=True)


if __name__ == "__main__":
    main()
