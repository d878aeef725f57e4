"""Connections made only to the addresses the URL policy checked (DNS rebinding defence).

httpcore asks its network backend to connect to a host name; ``PinnedBackend`` connects to the checked
IPs of that name instead of resolving it again, while TLS still verifies the certificate against, and
sends SNI for, the host name. httpx's client (which logs full URLs) is not used; requests go straight to
an httpcore connection pool, without environment proxies.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx


class PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses that were checked for the host being asked for (no re-resolution).
    ``pins`` maps the host name httpcore asks for to its checked IPs."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self.pins: dict[str, tuple[str, ...]] = {}

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        ips = self.pins.get(host)
        if not ips:  # a host nobody checked: never happens through Downloader, refuse all the same
            raise httpcore.ConnectError(f"refusing to connect to unchecked host {host!r}")
        last: Exception | None = None
        for ip in ips:
            try:
                return self._inner.connect_tcp(ip, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:  # try the next checked address, as create_connection does
                last = e
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise httpcore.ConnectError("unix sockets are not used for downloads")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class ByteStream(httpx.SyncByteStream):
    """An httpcore response body as an httpx stream, so ``httpx.Response`` can decode and iterate it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx's verifying context (certifi's CA bundle), built once: it takes ~50 ms to load."""
    return httpx.create_ssl_context()
