"""Safe dataset downloads: Slack `file_input` uploads and dataset URLs (Azure Blob SAS links and the like).

Synchronous on purpose: it runs in worker threads, never on Slack's ack path.

What it guarantees (issues #6 and #7, "Downloads"):

- **Schemes.** Only ``https``. Plain ``http`` only for a host listed *exactly* (no wildcard) in
  FTBOT_DATA_URL_HOSTS that is, or resolves only to, a loopback address (local testing). ``file:``,
  ``ftp:``, ``gopher:``, ``data:`` and everything else are refused, as are URLs carrying a user name or
  password.
- **Hosts.** The host must match the allow-list (``host``, ``host:port``, ``*.example.com``; a wildcard
  matches subdomains only). A host that resolves to a loopback, private, link-local, multicast, reserved,
  unspecified or otherwise non-global address (IPv4 and IPv6, including IPv4-mapped, 6to4, Teredo and
  NAT64 forms) is refused unless that exact host is listed. If *any* address in the DNS answer is
  internal the host is refused.
- **DNS rebinding.** Each host is resolved once per download; the checked addresses are pinned and the
  connection is made to those IPs only (a custom httpcore network backend), while TLS still verifies
  the certificate against, and sends SNI for, the host name. There is no second, unchecked resolution.
- **Redirects** are never followed automatically. Each ``Location`` is checked against every rule above
  (at most ``max_redirects`` hops, 3 by default), and the bot token is only sent to the same Slack file
  origin it started at, never to another host and never over a downgrade to http.
- **The bot token** goes only to Slack's file hosts (files.slack.com and the configured SLACK_API_URL
  origin), and only from :meth:`Downloader.download_slack_file`. :meth:`Downloader.download` never sends
  it, even for a Slack link a user pasted: the bot must not fetch, with its own rights, a private file
  the user may not see.
- **Size** is capped while streaming: a Content-Length over the cap is refused before reading; a body
  that runs past the cap is aborted and the partial file deleted.
- **HTML instead of JSONL** (Slack's 200 login page for a missing ``files:read`` scope, an expired
  share link) is detected from the first bytes and reported as such.
- **Files** are written to a temporary file next to ``dest`` and renamed into place on success; nothing
  half-written remains on failure.
- **Secrets.** Errors and logs show ``scheme://host/path`` only: never the query string (SAS
  signatures), never the token. httpx's client (which logs full URLs) is not used; requests go straight
  to an httpcore connection pool, without environment proxies.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from commands.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    from bot.runtime.settings import Settings

logger = logging.getLogger(__name__)

MAX_BYTES = 512 * 1024 * 1024  # Azure's limit for a fine-tuning dataset file
MAX_REDIRECTS = 3
MAX_NAME = 100
SLACK_FILE_HOST = "files.slack.com"
# Where a Slack file link may redirect to (without the token), besides FTBOT_DATA_URL_HOSTS: Slack's own
# domains. Wildcards, so the internal-address check still applies to them.
SLACK_REDIRECT_HOSTS = ("*.slack.com", "*.slack-edge.com")

SLACK_LOGIN_PAGE = (
    "Slack returned a login page instead of the file: the app needs the files:read scope (reinstall the app)"
)
URL_HTML_PAGE = "the URL returned an HTML page, not a JSONL file (is the link private or expired?)"
SLACK_LINK_HTML = (
    "Slack returned a login page instead of the file: a Slack file link cannot be fetched by URL; "
    "upload the file in the /finetune dialog instead"
)

Resolver = Callable[[str], list[str]]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_SNIFF = 512  # bytes of the body looked at before deciding whether it is an HTML page
_SNIFF_MAX = 64 * 1024  # ...but never buffer more than this while skipping leading whitespace
_CHUNK = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class DownloadResult:
    """A file on disk, fully written."""

    path: Path
    size: int  # bytes written (after any Content-Encoding was decoded)
    sha256: str  # hex digest of the written bytes
    content_type: str | None  # as the server sent it
    filename: str  # safe display name (see `safe_filename`)
    source: str  # scheme://host/path of the URL that served the bytes (no query string)


# --- small pure helpers -------------------------------------------------------------------------


def safe_url(url: str | httpx.URL) -> str:
    """``scheme://host[:port]/path`` of a URL: no user info, query string or fragment (SAS signatures
    live in the query). Long paths are shortened. Never raises."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            port = None
    except ValueError:
        return "(unparseable URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    path = parts.path
    if len(path) > 120:
        path = path[:117] + "..."
    scheme = parts.scheme.lower()
    return f"{scheme}://{netloc}{path}" if scheme else f"{netloc}{path}" or "(empty URL)"


def safe_filename(name: str | None, fallback: str = "dataset.jsonl") -> str:
    """A display name for a downloaded file: the last path component, without control or format
    characters (bidi overrides included), without leading dots, at most 100 characters (the extension
    is kept when the name is shortened). ``fallback`` when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(" " if unicodedata.category(ch) in ("Zl", "Zp") or ch in "\t\n\r" else ch for ch in text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    text = " ".join(text.split())  # collapse runs of whitespace
    text = text.lstrip(". ").rstrip()
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            text = stem[: MAX_NAME - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:MAX_NAME].rstrip()
    return text or fallback


def looks_like_html(prefix: bytes) -> bool:
    """True when a body starts with an HTML document (after a BOM and whitespace)."""
    head = prefix.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def blocked_address(ip: str) -> str | None:
    """Why an address must not be fetched from (``None`` if it is a public, global unicast address).

    IPv4-mapped (``::ffff:a.b.c.d``), 6to4, Teredo and NAT64 (``64:ff9b::/96``) IPv6 addresses are judged
    by the IPv4 address inside them, too."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    except ValueError:
        return "not an IP address"
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [addr]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            candidates.append(addr.ipv4_mapped)
        if addr.sixtofour is not None:
            candidates.append(addr.sixtofour)
        if addr.teredo is not None:
            candidates.extend(addr.teredo)
        if addr in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    for a in candidates:
        for attr, why in (
            ("is_unspecified", "unspecified"),
            ("is_loopback", "loopback"),
            ("is_link_local", "link-local"),
            ("is_multicast", "multicast"),
            ("is_private", "private"),
            ("is_reserved", "reserved"),
        ):
            if getattr(a, attr):
                return why
        if not a.is_global:
            return "not globally routable"
    return None


def system_resolver(host: str) -> list[str]:
    """host -> its IP addresses, in the order the system resolver gives them."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        ip = str(info[4][0])
        if ip not in out:
            out.append(ip)
    return out


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host and not host.isascii():
        with suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host


@dataclass(frozen=True)
class HostRule:
    """One allow-list entry: ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or ``*.suffix``."""

    host: str  # normalised; for a wildcard, the suffix without "*."
    port: int | None = None
    wildcard: bool = False

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        text = entry.strip()
        if "://" in text:  # tolerate "https://host/" in the setting
            parsed = urlsplit(text)
            return cls(_normal_host(parsed.hostname or ""), parsed.port)
        port: int | None = None
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest.startswith(":") and rest[1:].isdigit():
                port = int(rest[1:])
        elif text.count(":") == 1:
            host, _, p = text.partition(":")
            if p.isdigit():
                port = int(p)
            else:
                host = text
        else:
            host = text
        host = _normal_host(host)
        if host.startswith("*."):
            return cls(host[2:], port, wildcard=True)
        return cls(host, port)

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str  # normalised, for rules and messages
    raw_host: str  # exactly what httpcore will ask the network backend to connect to
    port: int
    ips: tuple[str, ...]
    exact: bool  # the host is listed exactly (no wildcard) in the rules it was checked against


# --- the network backend that pins checked addresses ----------------------------------------------


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses that were checked for the host being asked for (no re-resolution)."""

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


# --- the downloader -------------------------------------------------------------------------------


class Downloader:
    """Downloads datasets under the rules in this module's docstring. Thread-safe; one per process.

    ``resolver`` maps a host name to its IP addresses (default: the system resolver); tests inject one
    to simulate DNS answers. ``verify`` is passed to ``httpx.create_ssl_context`` (tests pass an
    ``ssl.SSLContext`` that trusts their own certificate)."""

    def __init__(
        self,
        allowed_hosts: Sequence[str],
        *,
        slack_file_hosts: Sequence[str] = (SLACK_FILE_HOST,),
        bot_token: str | None = None,
        max_bytes: int = MAX_BYTES,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        total_timeout: float = 1800.0,
        max_redirects: int = MAX_REDIRECTS,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool | str = True,
    ) -> None:
        self.allowed = [HostRule.parse(h) for h in allowed_hosts if h.strip()]
        self.slack_hosts = [HostRule.parse(h) for h in slack_file_hosts if h.strip()]
        if any(r.wildcard for r in self.slack_hosts):
            raise ValueError("Slack file hosts must be exact host names (the bot token is sent to them)")
        self._slack_redirects = [HostRule.parse(h) for h in SLACK_REDIRECT_HOSTS]
        self._token = bot_token
        self.max_bytes = max_bytes
        self.timeouts = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": read_timeout,
            "pool": connect_timeout,
        }
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        self.resolver: Resolver = resolver or system_resolver
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None

    def __repr__(self) -> str:  # never show the token
        return f"Downloader(allowed={[r.host for r in self.allowed]!r}, max_bytes={self.max_bytes})"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Downloader:
        """FTBOT_DATA_URL_HOSTS as the allow-list; files.slack.com and SLACK_API_URL's origin as the Slack
        file hosts; SLACK_BOT_TOKEN as the token."""
        api = urlsplit(settings.slack_api_url)
        api_host = api.hostname or "slack.com"
        api_rule = f"[{api_host}]" if ":" in api_host else api_host
        if api.port is not None:
            api_rule += f":{api.port}"
        kwargs: dict[str, Any] = {
            "slack_file_hosts": [SLACK_FILE_HOST, api_rule],
            "bot_token": settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
        }
        kwargs.update(overrides)
        return cls(list(settings.data_url_hosts), **kwargs)

    # --- public API ---

    def download(self, url: str, dest: Path, *, field: str | None = None) -> DownloadResult:
        """Fetch a dataset URL into ``dest``. Never sends the bot token.

        Raises ``InvalidInput`` (bad or refused URL, 4xx, too big, HTML page; ``field`` is attached so a
        modal can show it next to the right block) or ``Unavailable`` (timeouts, connection failures,
        5xx, 429 with ``retry_after``)."""
        return self._fetch(url.strip(), dest, slack=False, field=field, name_hint=None)

    def download_slack_file(
        self, file: Mapping[str, Any], dest: Path, *, field: str | None = None
    ) -> DownloadResult:
        """Fetch a ``file_input`` file object's ``url_private_download`` with the bot token.

        The token is only sent when the link points at a Slack file host (files.slack.com or the
        SLACK_API_URL origin); a file object pointing anywhere else is refused."""
        url = file.get("url_private_download") if isinstance(file, Mapping) else None
        if not isinstance(url, str) or not url.strip():
            raise InvalidInput("the uploaded file has no download link (url_private_download)", field=field)
        size = file.get("size")
        if isinstance(size, int) and size > self.max_bytes:
            raise InvalidInput(f"the file is {_mb(size)}, over the {_mb(self.max_bytes)} limit", field=field)
        if self._token is None:
            raise Unavailable("SLACK_BOT_TOKEN is not set, so uploaded files cannot be downloaded")
        name = file.get("name") or file.get("title")
        return self._fetch(
            url.strip(), dest, slack=True, field=field, name_hint=name if isinstance(name, str) else None
        )

    # --- the hops ---

    def _fetch(
        self, url: str, dest: Path, *, slack: bool, field: str | None, name_hint: str | None
    ) -> DownloadResult:
        deadline = time.monotonic() + self.total_timeout
        checked: dict[tuple[str, int], _Target] = {}
        target = self._check(url, slack=slack, first=True, field=field, checked=checked)
        backend = _PinnedBackend()
        pool = httpcore.ConnectionPool(
            ssl_context=self._ssl_context(),
            network_backend=backend,
            max_connections=2,
            retries=0,
        )
        try:
            token_origin = (target.url.scheme, target.host, target.port) if slack else None
            for hop in range(self.max_redirects + 1):
                backend.pins[target.raw_host] = target.ips
                send_token = token_origin is not None and token_origin == (
                    target.url.scheme,
                    target.host,
                    target.port,
                )
                with self._request(pool, target, send_token=send_token, field=field) as response:
                    if response.status_code in _REDIRECTS:
                        location = response.headers.get("location")
                        if not location:
                            raise InvalidInput(
                                f"{safe_url(target.url)} answered a redirect without a Location", field=field
                            )
                        if hop == self.max_redirects:
                            raise InvalidInput(
                                f"{safe_url(url)} redirects more than {self.max_redirects} times; "
                                "give the final link instead",
                                field=field,
                            )
                        try:
                            next_url = str(target.url.join(location))
                        except (httpx.InvalidURL, ValueError) as e:
                            raise InvalidInput(
                                f"{safe_url(target.url)} redirects to an invalid URL", field=field
                            ) from e
                        if target.url.scheme == "https" and next_url.lower().startswith("http:"):
                            raise InvalidInput(
                                f"{safe_url(target.url)} redirects from https to plain http (refused)",
                                field=field,
                            )
                        logger.info("download: %s redirects to %s", safe_url(target.url), safe_url(next_url))
                        target = self._check(next_url, slack=slack, first=False, field=field, checked=checked)
                        continue
                    self._raise_for_status(response, target, field=field)
                    return self._save(
                        response,
                        target,
                        dest,
                        slack=slack,
                        field=field,
                        deadline=deadline,
                        name_hint=name_hint,
                    )
            raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
        finally:
            pool.close()

    def _check(
        self,
        url: str,
        *,
        slack: bool,
        first: bool,
        field: str | None,
        checked: dict[tuple[str, int], _Target],
    ) -> _Target:
        shown = safe_url(url)
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            scheme = ""
        if not scheme:
            raise InvalidInput("that is not a link: give a full https:// URL", field=field)
        if scheme not in ("http", "https"):
            sep = "://" if "://" in url else ":"
            raise InvalidInput(f"{scheme}{sep} links are not accepted; give an https:// link", field=field)
        if "://" not in url:
            raise InvalidInput("that is not a link: give a full https:// URL", field=field)
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as e:
            raise InvalidInput(f"{shown} is not a valid URL", field=field) from e
        if parsed.scheme not in ("http", "https"):
            raise InvalidInput(
                f"{parsed.scheme}:// links are not accepted; give an https:// link", field=field
            )
        if parsed.userinfo:
            raise InvalidInput(f"{shown}: links with a user name or password are not accepted", field=field)
        raw_host = parsed.raw_host.decode("ascii")
        host = _normal_host(raw_host)
        if not host:
            raise InvalidInput(f"{shown} has no host", field=field)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if (host, port) in checked:
            cached = checked[(host, port)]
            if parsed.scheme == "http" and not _all_loopback(cached.ips):
                raise InvalidInput(f"{shown}: plain http is refused; give an https:// link", field=field)
            return _Target(parsed, host, raw_host, port, cached.ips, cached.exact)

        if slack and first:
            rules = self.slack_hosts
            if not any(r.matches(host, port) for r in rules):
                raise InvalidInput(
                    f"refusing to fetch the uploaded file from {shown}: Slack file links must point at "
                    f"{SLACK_FILE_HOST}",
                    field=field,
                )
        else:
            rules = [*self.slack_hosts, *self._slack_redirects, *self.allowed] if slack else self.allowed
            if not any(r.matches(host, port) for r in rules):
                where = "redirects to" if not first else "is on"
                raise InvalidInput(
                    f"{shown} {where} a host that is not allowed ({host}); allowed hosts are set in "
                    f"FTBOT_DATA_URL_HOSTS",
                    field=field,
                )
        exact = any(not r.wildcard and r.matches(host, port) for r in rules)

        ips = self._resolve(raw_host, host, shown, field=field)
        if not exact:
            for ip in ips:
                why = blocked_address(ip)
                if why is not None:
                    logger.warning("download refused: %s resolves to %s address %s", host, why, ip)
                    raise InvalidInput(
                        f"{shown}: the host resolves to an internal network address ({why}), refused; "
                        "an operator can list this exact host in FTBOT_DATA_URL_HOSTS if that is intended",
                        field=field,
                    )
        if parsed.scheme == "http" and not (exact and _all_loopback(ips)):
            raise InvalidInput(
                f"{shown}: plain http is refused; give an https:// link "
                "(http is only allowed for a loopback host listed exactly in FTBOT_DATA_URL_HOSTS)",
                field=field,
            )
        target = _Target(parsed, host, raw_host, port, tuple(ips), exact)
        checked[(host, port)] = target
        return target

    def _resolve(self, raw_host: str, host: str, shown: str, *, field: str | None) -> list[str]:
        try:
            ipaddress.ip_address(raw_host.split("%", 1)[0])
            return [raw_host]  # an IP literal: nothing to resolve
        except ValueError:
            pass
        try:
            ips = list(self.resolver(host))
        except (OSError, UnicodeError) as e:
            raise InvalidInput(f"{shown}: the host {host} could not be found", field=field) from e
        if not ips:
            raise InvalidInput(f"{shown}: the host {host} could not be found", field=field)
        return ips

    @contextmanager
    def _request(
        self, pool: httpcore.ConnectionPool, target: _Target, *, send_token: bool, field: str | None
    ) -> Iterator[httpx.Response]:
        headers = [
            (b"Host", target.url.netloc),
            (b"User-Agent", b"ftbot-downloader"),
            (b"Accept", b"*/*"),
            (b"Accept-Encoding", b"identity"),
        ]
        if send_token:
            assert self._token is not None
            headers.append((b"Authorization", f"Bearer {self._token}".encode()))
        request = httpcore.Request(
            b"GET",
            httpcore.URL(
                scheme=target.url.raw_scheme,
                host=target.url.raw_host,
                port=target.url.port,
                target=target.url.raw_path,
            ),
            headers=headers,
            extensions={"timeout": self.timeouts},
        )
        with self._transport_errors(target, field=field):
            core = pool.handle_request(request)
        response = httpx.Response(core.status, headers=core.headers, stream=_Stream(core.stream))
        try:
            yield response
        finally:
            response.close()

    @contextmanager
    def _transport_errors(self, target: _Target, *, field: str | None) -> Iterator[None]:
        shown = safe_url(target.url)
        try:
            yield
        except httpcore.TimeoutException as e:
            raise Unavailable(f"{shown} timed out; try again later") from e
        except httpcore.ConnectError as e:
            if isinstance(e.__cause__ or e.__context__, ssl.SSLError):
                raise InvalidInput(
                    f"{shown}: the server's TLS certificate could not be verified", field=field
                ) from e
            raise Unavailable(f"could not connect to {target.host}; try again later") from e
        except (httpcore.NetworkError, httpcore.ProtocolError) as e:
            raise Unavailable(f"the connection to {target.host} broke off; try again later") from e
        except httpx.DecodingError as e:
            raise InvalidInput(f"{shown}: the response could not be decoded", field=field) from e

    def _raise_for_status(self, response: httpx.Response, target: _Target, *, field: str | None) -> None:
        status = response.status_code
        shown = safe_url(target.url)
        if status == 200:
            return
        if status in (401, 403):
            raise InvalidInput(
                f"{shown} refused access (HTTP {status}): is the link private, or has its SAS token expired?",
                field=field,
            )
        if status in (404, 410):
            raise InvalidInput(f"{shown} was not found (HTTP {status}): check the link", field=field)
        if status == 429:
            raise Unavailable(
                f"{target.host} is throttling downloads (HTTP 429); try again later",
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        if status >= 500:
            raise Unavailable(
                f"{target.host} answered HTTP {status}; try again later",
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        raise InvalidInput(f"{shown} answered HTTP {status}, not a file", field=field)

    def _save(
        self,
        response: httpx.Response,
        target: _Target,
        dest: Path,
        *,
        slack: bool,
        field: str | None,
        deadline: float,
        name_hint: str | None,
    ) -> DownloadResult:
        shown = safe_url(target.url)
        too_big = f"the file at {shown} is over the {_mb(self.max_bytes)} limit"
        length = _content_length(response.headers.get("content-length"))
        if length is not None and length > self.max_bytes:
            raise InvalidInput(
                f"the file at {shown} is {_mb(length)}, over the {_mb(self.max_bytes)} limit", field=field
            )
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        size = 0
        prefix = b""
        sniffed = False
        try:
            with os.fdopen(fd, "wb") as out, self._transport_errors(target, field=field):
                for chunk in response.iter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise InvalidInput(too_big, field=field)
                    if time.monotonic() > deadline:
                        raise Unavailable(f"downloading {shown} took longer than {self.total_timeout:.0f} s")
                    if not sniffed:
                        prefix += chunk
                        if len(prefix.lstrip()) >= _HTML_SNIFF or len(prefix) >= _SNIFF_MAX:
                            sniffed = True
                            self._refuse_html(prefix, target, slack=slack, field=field)
                    digest.update(chunk)
                    out.write(chunk)
                if not sniffed:
                    self._refuse_html(prefix, target, slack=slack, field=field)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        name = safe_filename(
            name_hint
            or _disposition_name(response.headers.get("content-disposition"))
            or unquote(target.url.path.rsplit("/", 1)[-1])
        )
        logger.info("downloaded %s (%d bytes, sha256 %s)", shown, size, digest.hexdigest()[:12])
        return DownloadResult(
            dest, size, digest.hexdigest(), response.headers.get("content-type"), name, shown
        )

    def _refuse_html(self, prefix: bytes, target: _Target, *, slack: bool, field: str | None) -> None:
        if not looks_like_html(prefix):
            return
        if slack:
            raise InvalidInput(SLACK_LOGIN_PAGE, field=field)
        if any(r.matches(target.host, target.port) for r in self.slack_hosts) or target.host.endswith(
            ".slack.com"
        ):
            raise InvalidInput(SLACK_LINK_HTML, field=field)
        raise InvalidInput(URL_HTML_PAGE, field=field)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            verify = self._verify
            if isinstance(verify, ssl.SSLContext):
                self._ssl = verify
            elif verify is True:
                self._ssl = _default_ssl_context()
            else:
                self._ssl = httpx.create_ssl_context(verify=verify)
        return self._ssl


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """httpx's verifying context (certifi's CA bundle), built once: it takes ~50 ms to load."""
    return httpx.create_ssl_context()


class _Stream(httpx.SyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def _all_loopback(ips: Sequence[str]) -> bool:
    try:
        return bool(ips) and all(ipaddress.ip_address(ip.split("%", 1)[0]).is_loopback for ip in ips)
    except ValueError:
        return False


def _content_length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _disposition_name(value: str | None) -> str | None:
    if not value:
        return None
    msg = Message()
    msg["content-disposition"] = value
    name = msg.get_filename()
    return name if isinstance(name, str) else None


def _mb(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


__all__ = [
    "MAX_BYTES",
    "SLACK_LOGIN_PAGE",
    "URL_HTML_PAGE",
    "DownloadResult",
    "Downloader",
    "HostRule",
    "blocked_address",
    "looks_like_html",
    "safe_filename",
    "safe_url",
    "system_resolver",
]
