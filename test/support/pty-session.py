"""Run a command in a real pseudo-terminal, as a terminal window runs a shell.

The command becomes the session leader with the pty as its controlling
terminal, in the terminal's foreground process group: Ctrl+C written to the
pty reaches it as SIGINT, and closing the pty (the window closing) hangs the
terminal up, which sends it SIGHUP.

Used by test/support/pty.ts. Protocol: one JSON object per line on stdout,
{"pid": n}, {"out": text} (what the terminal shows), {"closed": true},
{"exit": code} (negative: killed by that signal). Commands on stdin, one per
line: "write <base64>" and "close". End of stdin closes the terminal.
"""
import base64
import json
import os
import pty
import select
import sys


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)
    emit({"pid": pid})
    stdin = sys.stdin.fileno()
    stdin_open = True
    status = None
    while True:
        fds = ([stdin] if stdin_open else []) + ([master] if master is not None else [])
        ready, _, _ = select.select(fds, [], [], 0.02)
        if master is not None and master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                # EIO: every process that had the terminal open has closed it.
                data = b""
            if data:
                emit({"out": data.decode("utf-8", "replace")})
        if stdin_open and stdin in ready:
            line = sys.stdin.readline()
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "write" and master is not None:
                os.write(master, base64.b64decode(arg))
            if (cmd == "close" or not line) and master is not None:
                os.close(master)
                master = None
                emit({"closed": True})
            if not line:
                stdin_open = False
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                status = os.waitstatus_to_exitcode(st)
                emit({"exit": status})
        if status is not None and master is None:
            return


main()
