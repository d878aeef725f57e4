"""A loopback HTTP server that records every request and answers from a table of routes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recording:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}/{path.lstrip('/')}"


@contextmanager
def recording_server() -> Iterator[Recording]:
    rec = Recording()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            rec.seen.append(self.path)
            status, headers, body = rec.routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for k, v in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)  # quick shutdown()
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
