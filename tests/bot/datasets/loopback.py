"""A loopback HTTP server that records what it was sent, a fake DNS, and a ``Downloader`` built for them:
what the dataset download tests drive ``bot.datasets`` with. No test reaches the internet."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bot.datasets.fetcher import Downloader

TOKEN = "xoxb-test-token"
SAS = "sv=2024-01-01&sig=S3CRETsignatureVALUE%3D"
BODY = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'

# --- a loopback server that records what it was sent ------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [s.path.split("?")[0] for s in self.seen]


def reply(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None, length: bool = True
) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if length:
            h.send_header("Content-Length", str(len(body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):  # the client may hang up first, rightly
            h.wfile.write(body)

    return route


def ok(body: bytes = BODY, **headers: str) -> Route:
    return reply(200, body, {"Content-Type": "application/octet-stream", **headers})


def redirect(location: str, status: int = 302) -> Route:
    return reply(status, b"", {"Location": location})


def stream(chunks: list[bytes]) -> Route:
    """200 without a Content-Length, the body written in chunks until the connection closes."""

    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        with suppress(BrokenPipeError, ConnectionResetError):  # the client hangs up once past the cap
            for c in chunks:
                h.wfile.write(c)
                h.wfile.flush()

    return route


def slow(seconds: float) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        reply(200, BODY)(h)

    return route


def serve(server: Server, ssl_context: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = server.routes.get(self.path.split("?")[0])
            (route or reply(404, b"not found"))(self)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if ssl_context is not None:
        httpd.socket = ssl_context.wrap_socket(httpd.socket, server_side=True)
    server.port = int(httpd.server_address[1])
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd


class FakeDNS:
    """host -> addresses, counting lookups. Unknown hosts do not resolve."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.lookups: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


def make(allowed: list[str], dns: FakeDNS | None = None, **kw: object) -> Downloader:
    kw.setdefault("connect_timeout", 2.0)
    kw.setdefault("read_timeout", 2.0)
    return Downloader(allowed, resolver=dns or FakeDNS(), **kw)  # type: ignore[arg-type]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())
