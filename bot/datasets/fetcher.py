"""Safe dataset downloads: Slack ``file_input`` uploads and dataset URLs (Azure Blob SAS links and the like).

Synchronous on purpose: it runs in worker threads, never on Slack's ack path. Which URLs and addresses may
be fetched is ``bot.datasets.policy``'s call, made on the first URL and on every redirect; connections go
to the checked addresses only (``bot.datasets.pinned``). On top of that, the fetcher guarantees:

- **Redirects** are never followed automatically. Each ``Location`` is checked by the policy (at most
  ``max_redirects`` hops, 3 by default), and the bot token is only sent to the same Slack file origin it
  started at, never to another host and never over a downgrade to http.
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
- **Secrets.** Errors and logs show ``scheme://host/path`` only (``bot.datasets.names.safe_url``): never
  the query string (SAS signatures), never the token.
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from bot.datasets.names import safe_filename, safe_url
from bot.datasets.pinned import ByteStream, PinnedBackend, default_ssl_context
from bot.datasets.policy import SLACK_FILE_HOST, Resolver, Target, UrlPolicy
from commands.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    from bot.runtime.settings import Settings

logger = logging.getLogger(__name__)

MAX_BYTES = 512 * 1024 * 1024  # Azure's limit for a fine-tuning dataset file
MAX_REDIRECTS = 3

SLACK_LOGIN_PAGE = (
    "Slack returned a login page instead of the file: the app needs the files:read scope (reinstall the app)"
)
URL_HTML_PAGE = "the URL returned an HTML page, not a JSONL file (is the link private or expired?)"
SLACK_LINK_HTML = (
    "Slack returned a login page instead of the file: a Slack file link cannot be fetched by URL; "
    "upload the file in the /finetune dialog instead"
)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_SNIFF = 512  # bytes of the body looked at before deciding whether it is an HTML page
_SNIFF_MAX = 64 * 1024  # ...but never buffer more than this while skipping leading whitespace
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class DownloadResult:
    """A file on disk, fully written."""

    path: Path
    size: int  # bytes written (after any Content-Encoding was decoded)
    sha256: str  # hex digest of the written bytes
    content_type: str | None  # as the server sent it
    filename: str  # safe display name (see ``safe_filename``)
    source: str  # scheme://host/path of the URL that served the bytes (no query string)


def looks_like_html(prefix: bytes) -> bool:
    """True when a body starts with an HTML document (after a BOM and whitespace)."""
    head = prefix.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


class Downloader:
    """Downloads datasets under the rules in this module's and ``bot.datasets.policy``'s docstrings.
    Thread-safe; one per process.

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
        self.policy = UrlPolicy(allowed_hosts, slack_file_hosts=slack_file_hosts, resolver=resolver)
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
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None

    def __repr__(self) -> str:  # never show the token
        return f"Downloader(allowed={[r.host for r in self.policy.allowed]!r}, max_bytes={self.max_bytes})"

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
        checked: dict[tuple[str, int], Target] = {}
        target = self.policy.check(url, slack=slack, first=True, field=field, checked=checked)
        backend = PinnedBackend()
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
                send_token = token_origin == (target.url.scheme, target.host, target.port)
                with self._request(pool, target, send_token=send_token, field=field) as response:
                    if response.status_code in _REDIRECTS:
                        next_url = self._redirect(response, target, url, hop=hop, field=field)
                        target = self.policy.check(
                            next_url, slack=slack, first=False, field=field, checked=checked
                        )
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

    def _redirect(
        self, response: httpx.Response, target: Target, url: str, *, hop: int, field: str | None
    ) -> str:
        """Where a redirect points, if this download may follow it (the policy still checks the URL)."""
        location = response.headers.get("location")
        if not location:
            raise InvalidInput(f"{safe_url(target.url)} answered a redirect without a Location", field=field)
        if hop == self.max_redirects:
            raise InvalidInput(
                f"{safe_url(url)} redirects more than {self.max_redirects} times; "
                "give the final link instead",
                field=field,
            )
        try:
            next_url = str(target.url.join(location))
        except (httpx.InvalidURL, ValueError) as e:
            raise InvalidInput(f"{safe_url(target.url)} redirects to an invalid URL", field=field) from e
        if target.url.scheme == "https" and next_url.lower().startswith("http:"):
            raise InvalidInput(
                f"{safe_url(target.url)} redirects from https to plain http (refused)", field=field
            )
        logger.info("download: %s redirects to %s", safe_url(target.url), safe_url(next_url))
        return next_url

    @contextmanager
    def _request(
        self, pool: httpcore.ConnectionPool, target: Target, *, send_token: bool, field: str | None
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
        response = httpx.Response(core.status, headers=core.headers, stream=ByteStream(core.stream))
        try:
            yield response
        finally:
            response.close()

    @contextmanager
    def _transport_errors(self, target: Target, *, field: str | None) -> Iterator[None]:
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

    def _raise_for_status(self, response: httpx.Response, target: Target, *, field: str | None) -> None:
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

    # --- the body ---

    def _save(
        self,
        response: httpx.Response,
        target: Target,
        dest: Path,
        *,
        slack: bool,
        field: str | None,
        deadline: float,
        name_hint: str | None,
    ) -> DownloadResult:
        """Stream the body into ``dest`` (through a temporary file renamed into place), named for display
        by ``name_hint``, the Content-Disposition or the URL's last path segment."""
        shown = safe_url(target.url)
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
        try:
            with os.fdopen(fd, "wb") as out, self._transport_errors(target, field=field):
                size = self._write_body(
                    response, out, digest, target, slack=slack, field=field, deadline=deadline
                )
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

    def _write_body(
        self,
        response: httpx.Response,
        out: IO[bytes],
        digest: Any,
        target: Target,
        *,
        slack: bool,
        field: str | None,
        deadline: float,
    ) -> int:
        """Copy the body to ``out`` under the size cap and the deadline, refusing an HTML page once its
        first bytes are in. Returns the number of bytes written."""
        shown = safe_url(target.url)
        too_big = f"the file at {shown} is over the {_mb(self.max_bytes)} limit"
        size = 0
        prefix = b""
        sniffed = False
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
        return size

    def _refuse_html(self, prefix: bytes, target: Target, *, slack: bool, field: str | None) -> None:
        if not looks_like_html(prefix):
            return
        if slack:
            raise InvalidInput(SLACK_LOGIN_PAGE, field=field)
        if self.policy.is_slack_file_host(target.host, target.port) or target.host.endswith(".slack.com"):
            raise InvalidInput(SLACK_LINK_HTML, field=field)
        raise InvalidInput(URL_HTML_PAGE, field=field)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            verify = self._verify
            if isinstance(verify, ssl.SSLContext):
                self._ssl = verify
            elif verify is True:
                self._ssl = default_ssl_context()
            else:
                self._ssl = httpx.create_ssl_context(verify=verify)
        return self._ssl


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
