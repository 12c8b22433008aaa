"""A stand-in for the chat-history app, run as a sandbox container (stdlib only, run by path).

It follows its mounted ConfigMap key: GET /mode reads $MODE_FILE on every request (through the
key symlink, as the dual-write library does), GET /frozen reads $FROZEN_FILE (a subPath mount),
GET /pid tells which process answered, GET /ready answers 200 only once $READY_FLAG exists
(200 when unset). With $LISTEN_FLAG set it binds only once that file exists (a slow start).
It logs its start, every mode it sees change, and SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType


def read(variable: str) -> str:
    path = os.environ.get(variable)
    return Path(path).read_text() if path else ""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200
        if self.path == "/mode":
            body = read("MODE_FILE")
        elif self.path == "/frozen":
            body = read("FROZEN_FILE")
        elif self.path == "/pid":
            body = str(os.getpid())
        elif self.path == "/ready":
            flag = os.environ.get("READY_FLAG")
            ready = flag is None or Path(flag).exists()
            status, body = (200, "ready") if ready else (503, "not ready")
            print(f"readiness probe: {status}", flush=True)
        else:
            status, body = 404, "not found"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def watch_mode(stop: threading.Event) -> None:
    seen = None
    while True:
        try:
            mode = read("MODE_FILE")
        except OSError:
            mode = seen
        if mode != seen:
            print(f"mode={mode}", flush=True)
            seen = mode
        if stop.wait(0.05):
            return


def main() -> None:
    listen_flag = os.environ.get("LISTEN_FLAG")
    while listen_flag and not Path(listen_flag).exists():
        threading.Event().wait(0.05)
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)

    def on_term(signum: int, frame: FrameType | None) -> None:
        print("SIGTERM: stopping", flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    print(f"serving on {os.environ['PORT']} pid={os.getpid()}", flush=True)
    stop = threading.Event()
    threading.Thread(target=watch_mode, args=(stop,), daemon=True).start()
    server.serve_forever()
    stop.set()
    sys.exit(0)


if __name__ == "__main__":
    main()
