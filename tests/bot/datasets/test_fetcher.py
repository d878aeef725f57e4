"""bot/downloads.py on loopback only: allow-list, schemes, internal addresses (via an injected resolver),
redirects, the bot token, size caps, HTML pages, error mapping and what error messages may show."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.datasets.fetcher import (
    SLACK_LOGIN_PAGE,
    URL_HTML_PAGE,
    Downloader,
    HostRule,
    blocked_address,
    looks_like_html,
    safe_filename,
    safe_url,
)
from bot.demo.slack import FakeSlack
from bot.runtime.settings import Settings
from commands.errors import InvalidInput, Unavailable

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


def _reply(
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
    return _reply(200, body, {"Content-Type": "application/octet-stream", **headers})


def redirect(location: str, status: int = 302) -> Route:
    return _reply(status, b"", {"Location": location})


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
        _reply(200, BODY)(h)

    return route


def _serve(server: Server, ssl_context: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = server.routes.get(self.path.split("?")[0])
            (route or _reply(404, b"not found"))(self)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if ssl_context is not None:
        httpd.socket = ssl_context.wrap_socket(httpd.socket, server_side=True)
    server.port = int(httpd.server_address[1])
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    httpd = _serve(s)
    try:
        yield s
    finally:
        httpd.shutdown()
        httpd.server_close()


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


# --- the happy path ---------------------------------------------------------------------------------


def test_explicitly_allowed_loopback_host_downloads(server: Server, tmp_path: Path) -> None:
    server.routes["/data/train.jsonl"] = ok(BODY, **{"Content-Type": "application/jsonl"})
    dest = tmp_path / "out" / "train.jsonl"
    result = make(["127.0.0.1"]).download(f"{server.base}/data/train.jsonl?{SAS}", dest)
    assert dest.read_bytes() == BODY
    assert result.path == dest
    assert result.size == len(BODY)
    assert result.sha256 == hashlib.sha256(BODY).hexdigest()
    assert result.content_type == "application/jsonl"
    assert result.filename == "train.jsonl"
    assert result.source == f"{server.base}/data/train.jsonl"  # no query string
    assert leftovers(dest.parent) == ["train.jsonl"]  # no temp file left behind
    assert "authorization" not in server.seen[0].headers


def test_content_disposition_names_the_file(server: Server, tmp_path: Path) -> None:
    server.routes["/blob"] = ok(
        BODY, **{"Content-Disposition": 'attachment; filename="../support chat.jsonl"'}
    )
    result = make(["127.0.0.1"]).download(f"{server.base}/blob", tmp_path / "d.jsonl")
    assert result.filename == "support chat.jsonl"


def test_exactly_listed_name_resolving_to_loopback_is_pinned(server: Server, tmp_path: Path) -> None:
    """The checked address is the one connected to: one lookup per host per download, even across a
    same-host redirect, and the Host header still names the host."""
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = ok()
    dns = FakeDNS({"files.test": ["127.0.0.1"]})
    make(["files.test"], dns).download(f"http://files.test:{server.port}/a", tmp_path / "d.jsonl")
    assert dns.lookups == ["files.test"]
    assert server.paths() == ["/a", "/b"]
    assert {s.headers["host"] for s in server.seen} == {f"files.test:{server.port}"}


# --- refusals before any byte is fetched ------------------------------------------------------------


def test_host_not_on_the_allow_list_is_refused(server: Server, tmp_path: Path) -> None:
    server.routes["/x"] = ok()
    with pytest.raises(InvalidInput, match="not allowed") as err:
        make(["files.example.com", "*.blob.core.windows.net"]).download(f"{server.base}/x", tmp_path / "d")
    assert "FTBOT_DATA_URL_HOSTS" in str(err.value)
    assert server.seen == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "file://"),
        ("FILE:///etc/passwd", "file://"),
        ("ftp://127.0.0.1/train.jsonl", "ftp://"),
        ("gopher://127.0.0.1:70/_x", "gopher://"),
        ("data:application/json,{}", "data:"),
        ("javascript:alert(1)", "javascript:"),
        ("dict://127.0.0.1:11211/stat", "dict://"),
        ("127.0.0.1/train.jsonl", "not a link"),
        ("//127.0.0.1/train.jsonl", "not a link"),
        ("https:/127.0.0.1/x", "not a link"),
        ("", "not a link"),
    ],
)
def test_bad_schemes_are_refused(url: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="https://") as err:
        make(["127.0.0.1"]).download(url, tmp_path / "d", field="data_url")
    assert says in str(err.value)
    assert err.value.field == "data_url"


def test_user_info_in_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="user name or password") as err:
        make(["127.0.0.1"]).download("http://admin:hunter22@127.0.0.1:1/x", tmp_path / "d")
    assert "hunter22" not in str(err.value)


def test_plain_http_refused_for_a_public_host_even_if_listed(tmp_path: Path) -> None:
    dns = FakeDNS({"data.example.com": ["93.184.216.34"]})
    with pytest.raises(InvalidInput, match="plain http"):
        make(["data.example.com"], dns).download("http://data.example.com/train.jsonl", tmp_path / "d")


def test_plain_http_refused_for_a_loopback_host_matched_only_by_wildcard(tmp_path: Path) -> None:
    dns = FakeDNS({"dev.test": ["127.0.0.1"]})
    with pytest.raises(InvalidInput, match="internal network address"):
        make(["*.test"], dns).download("http://dev.test/x", tmp_path / "d")


INTERNAL = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1%eth0",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
]


@pytest.mark.parametrize("ip", INTERNAL)
def test_host_resolving_to_an_internal_address_is_refused(ip: str, tmp_path: Path) -> None:
    dns = FakeDNS({"data.example.com": [ip]})
    with pytest.raises(InvalidInput, match="internal network address") as err:
        make(["*.example.com"], dns).download(f"https://data.example.com/train.jsonl?{SAS}", tmp_path / "d")
    assert ip.split("%")[0] not in str(err.value)  # do not tell a prober what the name resolves to
    assert "S3CRET" not in str(err.value)


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/x", "https://10.0.0.1/x", "https://[::1]/x", "https://[::ffff:7f00:1]/x"]
)
def test_unlisted_ip_literals_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not allowed"):
        make(["*.example.com", "127.0.0.2"]).download(url, tmp_path / "d")


def test_ip_literal_matched_only_by_a_wildcard_is_still_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="internal network address"):
        make(["*.0.0.1"]).download("https://127.0.0.1/x", tmp_path / "d")


def test_one_internal_address_among_public_ones_is_enough_to_refuse(tmp_path: Path) -> None:
    dns = FakeDNS({"data.example.com": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(InvalidInput, match="internal network address"):
        make(["*.example.com"], dns).download("https://data.example.com/x", tmp_path / "d")


def test_unresolvable_host_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="could not be found"):
        make(["*.example.com"]).download("https://nowhere.example.com/x", tmp_path / "d")


@pytest.mark.parametrize("ip", [ip.split("%")[0] for ip in INTERNAL])
def test_blocked_address_names_why(ip: str) -> None:
    assert blocked_address(ip) is not None


@pytest.mark.parametrize(
    "ip", ["93.184.216.34", "20.60.1.2", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"]
)
def test_public_addresses_are_not_blocked(ip: str) -> None:
    assert blocked_address(ip) is None


def test_host_rules() -> None:
    wild = HostRule.parse("*.blob.core.windows.net")
    assert wild.matches("acct.blob.core.windows.net", 443)
    assert not wild.matches("blob.core.windows.net", 443)  # a wildcard matches subdomains only
    assert not wild.matches("acct.blob.core.windows.net.evil.com", 443)
    assert not wild.matches("evilblob.core.windows.net", 443)
    pinned = HostRule.parse("127.0.0.1:8080")
    assert pinned.matches("127.0.0.1", 8080)
    assert not pinned.matches("127.0.0.1", 8081)
    assert HostRule.parse("[::1]:9000") == HostRule("::1", 9000)
    assert HostRule.parse("::1") == HostRule("::1")
    assert HostRule.parse(" Files.Slack.COM. ") == HostRule("files.slack.com")


# --- redirects ---------------------------------------------------------------------------------------


def test_redirect_to_a_host_not_allowed_is_refused(server: Server, tmp_path: Path) -> None:
    server.routes["/r"] = redirect(f"http://evil.test:{server.port}/loot?{SAS}")
    server.routes["/loot"] = ok()
    dns = FakeDNS({"evil.test": ["127.0.0.1"]})
    with pytest.raises(InvalidInput, match="redirects to a host that is not allowed") as err:
        make(["127.0.0.1"], dns).download(f"{server.base}/r", tmp_path / "d")
    assert server.paths() == ["/r"]
    assert "S3CRET" not in str(err.value)


def test_redirect_to_an_internal_address_is_refused(server: Server, tmp_path: Path) -> None:
    server.routes["/r"] = redirect("https://meta.example.com/latest/meta-data/")
    dns = FakeDNS({"meta.example.com": ["169.254.169.254"]})
    with pytest.raises(InvalidInput, match="internal network address"):
        make(["127.0.0.1", "*.example.com"], dns).download(f"{server.base}/r", tmp_path / "d")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_three_redirects_are_followed(status: int, server: Server, tmp_path: Path) -> None:
    server.routes |= {
        "/1": redirect("/2", status),
        "/2": redirect("/3", status),
        "/3": redirect("/4", status),
    }
    server.routes["/4"] = ok()
    result = make(["127.0.0.1"]).download(f"{server.base}/1", tmp_path / "d")
    assert result.size == len(BODY)
    assert result.source == f"{server.base}/4"


def test_redirect_chain_too_long_is_refused(server: Server, tmp_path: Path) -> None:
    for i in range(1, 6):
        server.routes[f"/{i}"] = redirect(f"/{i + 1}")
    server.routes["/6"] = ok()
    with pytest.raises(InvalidInput, match="redirects more than 3 times"):
        make(["127.0.0.1"]).download(f"{server.base}/1", tmp_path / "d")
    assert server.paths() == ["/1", "/2", "/3", "/4"]
    assert leftovers(tmp_path) == []


def test_redirect_without_location_is_an_error(server: Server, tmp_path: Path) -> None:
    server.routes["/r"] = _reply(302)
    with pytest.raises(InvalidInput, match="without a Location"):
        make(["127.0.0.1"]).download(f"{server.base}/r", tmp_path / "d")


# --- the bot token ---------------------------------------------------------------------------------


def test_slack_upload_downloads_from_the_fake_slack_with_settings(tmp_path: Path) -> None:
    with FakeSlack(bot_token=TOKEN) as slack:
        settings = Settings(SLACK_API_URL=slack.api_url, SLACK_BOT_TOKEN=TOKEN)
        downloader = Downloader.from_settings(settings)
        file = slack.add_file(BODY, name="support.jsonl") | {"name": "../../support\x00.jsonl"}
        result = downloader.download_slack_file(file, tmp_path / "upload.jsonl")
    assert (tmp_path / "upload.jsonl").read_bytes() == BODY
    assert result.filename == "support.jsonl"
    assert TOKEN not in repr(downloader)


def test_slack_login_page_means_missing_scope(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeSlack(bot_token="xoxb-the-right-one") as slack:
        settings = Settings(SLACK_API_URL=slack.api_url, SLACK_BOT_TOKEN=TOKEN)
        file = slack.add_file(BODY)
        dest = tmp_path / "upload.jsonl"
        with pytest.raises(InvalidInput) as err:
            Downloader.from_settings(settings).download_slack_file(file, dest)
    assert str(err.value) == SLACK_LOGIN_PAGE
    assert leftovers(tmp_path) == []
    assert TOKEN not in caplog.text


def test_token_goes_to_the_slack_file_host_and_nowhere_else(server: Server, tmp_path: Path) -> None:
    server.routes["/files/F1/download/train.jsonl"] = ok()
    server.routes["/data.jsonl"] = ok()
    downloader = make(["127.0.0.1"], slack_file_hosts=[f"127.0.0.1:{server.port}"], bot_token=TOKEN)
    file = {"name": "train.jsonl", "url_private_download": f"{server.base}/files/F1/download/train.jsonl"}
    downloader.download_slack_file(file, tmp_path / "a")
    downloader.download(f"{server.base}/data.jsonl", tmp_path / "b")
    assert [s.headers.get("authorization") for s in server.seen] == [f"Bearer {TOKEN}", None]


def test_pasted_slack_link_is_fetched_without_the_token(server: Server, tmp_path: Path) -> None:
    """A user's pasted Slack link must not be fetched with the bot's rights (the file may be one the
    user cannot see): no token, and the login page is explained."""
    server.routes["/files/F1/download/x.jsonl"] = ok(b"<!DOCTYPE html><html>Sign in</html>")
    hosts = [f"127.0.0.1:{server.port}"]
    downloader = make(["127.0.0.1"], slack_file_hosts=hosts, bot_token=TOKEN)
    with pytest.raises(InvalidInput, match="upload the file"):
        downloader.download(f"{server.base}/files/F1/download/x.jsonl", tmp_path / "d")
    assert "authorization" not in server.seen[0].headers


def test_file_object_pointing_elsewhere_is_refused(server: Server, tmp_path: Path) -> None:
    server.routes["/steal"] = ok()
    downloader = make(["127.0.0.1", "*.example.com"], slack_file_hosts=["files.slack.com"], bot_token=TOKEN)
    for url in (f"{server.base}/steal", "https://evil.example.com/files/F1", "file:///etc/passwd"):
        with pytest.raises(InvalidInput) as err:
            downloader.download_slack_file({"url_private_download": url}, tmp_path / "d")
        assert TOKEN not in str(err.value)
    assert server.seen == []


def test_file_object_without_download_link_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no download link"):
        make([], bot_token=TOKEN).download_slack_file(
            {"url_private": "https://files.slack.com/x"}, tmp_path / "d"
        )


def test_token_not_forwarded_on_redirect_to_another_host(server: Server, tmp_path: Path) -> None:
    server.routes["/files/F1/download/t.jsonl"] = redirect(f"http://cdn.test:{server.port}/edge/t.jsonl")
    server.routes["/edge/t.jsonl"] = ok()
    dns = FakeDNS({"cdn.test": ["127.0.0.1"]})
    downloader = make(["cdn.test"], dns, slack_file_hosts=[f"127.0.0.1:{server.port}"], bot_token=TOKEN)
    file = {"url_private_download": f"{server.base}/files/F1/download/t.jsonl"}
    result = downloader.download_slack_file(file, tmp_path / "d")
    assert result.size == len(BODY)
    first, second = server.seen
    assert first.headers.get("authorization") == f"Bearer {TOKEN}"
    assert second.headers["host"] == f"cdn.test:{server.port}"
    assert "authorization" not in second.headers


def test_slack_file_may_redirect_to_slack_domains_without_the_token(server: Server, tmp_path: Path) -> None:
    server.routes["/files/F1"] = redirect(f"http://files-origin.slack.com:{server.port}/F1")
    public = FakeDNS({"files-origin.slack.com": ["93.184.216.34"]})
    downloader = make([], public, slack_file_hosts=[f"127.0.0.1:{server.port}"], bot_token=TOKEN)
    with pytest.raises(InvalidInput, match="plain http"):  # allowed host, but only https (and checked)
        downloader.download_slack_file({"url_private_download": f"{server.base}/files/F1"}, tmp_path / "d")
    server.routes["/files/F2"] = redirect("https://files-origin.slack.com/F2")
    dns = FakeDNS({"files-origin.slack.com": ["10.0.0.9"]})
    downloader = make([], dns, slack_file_hosts=[f"127.0.0.1:{server.port}"], bot_token=TOKEN)
    with pytest.raises(InvalidInput, match="internal network address"):
        downloader.download_slack_file({"url_private_download": f"{server.base}/files/F2"}, tmp_path / "d")


def test_token_kept_on_a_same_origin_redirect(server: Server, tmp_path: Path) -> None:
    server.routes["/files/F1"] = redirect("/files/F1/download")
    server.routes["/files/F1/download"] = ok()
    downloader = make([], slack_file_hosts=[f"127.0.0.1:{server.port}"], bot_token=TOKEN)
    downloader.download_slack_file({"url_private_download": f"{server.base}/files/F1"}, tmp_path / "d")
    assert [s.headers.get("authorization") for s in server.seen] == [f"Bearer {TOKEN}"] * 2


def test_no_token_configured_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="SLACK_BOT_TOKEN"):
        make([]).download_slack_file({"url_private_download": "https://files.slack.com/x"}, tmp_path / "d")


def test_from_settings_pins_the_slack_api_origin() -> None:
    settings = Settings(SLACK_API_URL="http://127.0.0.1:4567/api/", SLACK_BOT_TOKEN=TOKEN)
    downloader = Downloader.from_settings(settings)
    assert HostRule("127.0.0.1", 4567) in downloader.slack_hosts
    assert HostRule("files.slack.com") in downloader.slack_hosts
    assert HostRule("blob.core.windows.net", wildcard=True) in downloader.allowed
    with pytest.raises(ValueError, match="exact"):
        Downloader([], slack_file_hosts=["*.slack.com"])


# --- size -----------------------------------------------------------------------------------------


def test_content_length_over_the_cap_is_refused_before_reading(server: Server, tmp_path: Path) -> None:
    server.routes["/big"] = ok(b"x" * 5000)
    dest = tmp_path / "d"
    with pytest.raises(InvalidInput, match="over the 1000 bytes limit"):
        make(["127.0.0.1"], max_bytes=1000).download(f"{server.base}/big", dest)
    assert leftovers(tmp_path) == []


def test_stream_past_the_cap_is_aborted_and_nothing_remains(server: Server, tmp_path: Path) -> None:
    server.routes["/big"] = stream([b'{"messages": []}\n' * 64] * 200)  # ~218 KB, no Content-Length
    dest = tmp_path / "d.jsonl"
    dest.write_bytes(b"previous content")
    with pytest.raises(InvalidInput, match="over the 64 KB limit"):
        make(["127.0.0.1"], max_bytes=64 * 1024).download(f"{server.base}/big", dest)
    assert leftovers(tmp_path) == ["d.jsonl"]  # no .part file
    assert dest.read_bytes() == b"previous content"  # the old file is untouched


def test_slack_file_bigger_than_the_cap_is_refused_from_its_size(tmp_path: Path) -> None:
    downloader = make([], bot_token=TOKEN, max_bytes=10)
    with pytest.raises(InvalidInput, match="over the 10 bytes limit"):
        downloader.download_slack_file(
            {"url_private_download": "https://files.slack.com/x", "size": 11}, tmp_path
        )


def test_stream_without_length_under_the_cap_is_fine(server: Server, tmp_path: Path) -> None:
    server.routes["/s"] = stream([BODY] * 10)
    result = make(["127.0.0.1"]).download(f"{server.base}/s", tmp_path / "d")
    assert result.size == len(BODY) * 10


# --- HTML instead of JSONL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        b"<!DOCTYPE html><html><body>Sign in</body></html>",
        b"\xef\xbb\xbf  \r\n<!doctype HTML>\n<html></html>",
        b"\n\n<html lang=en><head></head></html>",
        b" " * 2000 + b"<html></html>",
    ],
)
def test_html_page_from_a_url_is_reported(page: bytes, server: Server, tmp_path: Path) -> None:
    server.routes["/share"] = ok(page, **{"Content-Type": "text/html"})
    with pytest.raises(InvalidInput) as err:
        make(["127.0.0.1"]).download(f"{server.base}/share?{SAS}", tmp_path / "d")
    assert str(err.value) == URL_HTML_PAGE
    assert leftovers(tmp_path) == []


def test_html_sniffing() -> None:
    assert looks_like_html(b"\xef\xbb\xbf<!DOCTYPE html>")
    assert not looks_like_html(b'{"messages": [{"content": "<html> is a tag"}]}')
    assert not looks_like_html(b"\xef\xbb\xbf" + BODY)
    assert not looks_like_html(b"")


# --- HTTP errors and timeouts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (403, InvalidInput, "refused access"),
        (401, InvalidInput, "refused access"),
        (404, InvalidInput, "not found"),
        (410, InvalidInput, "not found"),
        (400, InvalidInput, "HTTP 400"),
        (500, Unavailable, "HTTP 500"),
        (503, Unavailable, "HTTP 503"),
        (429, Unavailable, "throttling"),
    ],
)
def test_http_errors_are_mapped(
    status: int, error: type[Exception], says: str, server: Server, tmp_path: Path
) -> None:
    server.routes["/x"] = _reply(
        status, b"<Error>AuthenticationFailed sig=S3CRET</Error>", {"Retry-After": "7"}
    )
    with pytest.raises(error, match=says) as err:
        make(["127.0.0.1"]).download(f"{server.base}/x?{SAS}", tmp_path / "d")
    assert "S3CRET" not in str(err.value) and "sig=" not in str(err.value)
    if status == 429:
        assert isinstance(err.value, Unavailable) and err.value.retry_after == 7
    assert leftovers(tmp_path) == []


def test_read_timeout_is_unavailable(server: Server, tmp_path: Path) -> None:
    server.routes["/slow"] = slow(1.0)
    with pytest.raises(Unavailable, match="timed out"):
        make(["127.0.0.1"], read_timeout=0.2).download(f"{server.base}/slow?{SAS}", tmp_path / "d")
    assert leftovers(tmp_path) == []


def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Unavailable, match="could not connect"):
        make(["127.0.0.1"]).download(f"http://127.0.0.1:{port}/x", tmp_path / "d")


def test_no_error_or_log_line_shows_the_token_or_the_query(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything at INFO (what operators run), and this module's own records at DEBUG. httpcore's DEBUG
    # trace echoes response headers (a redirect's Location), which bot/logs.py's SecretFilter scrubs.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot.datasets.fetcher")
    server.routes |= {
        "/r": redirect(f"http://evil.test:{server.port}/x?{SAS}"),
        "/404": _reply(404),
        "/500": _reply(500),
        "/html": ok(b"<html></html>"),
        "/big": stream([b"x" * 4096] * 8),
        "/files/F1": redirect(f"/files/F2?{SAS}"),
        "/files/F2": ok(b"<!DOCTYPE html>"),
        "/ok": ok(),
    }
    downloader = make(
        ["127.0.0.1"],
        FakeDNS({"evil.test": ["127.0.0.1"]}),
        max_bytes=1000,
        slack_file_hosts=[f"127.0.0.1:{server.port}"],
        bot_token=TOKEN,
    )
    messages = []
    for path in ("/r", "/404", "/500", "/html", "/big"):
        with pytest.raises((InvalidInput, Unavailable)) as err:
            downloader.download(f"{server.base}{path}?{SAS}", tmp_path / "d")
        messages.append(str(err.value))
    with pytest.raises(InvalidInput) as err:
        downloader.download_slack_file(
            {"url_private_download": f"{server.base}/files/F1?{SAS}"}, tmp_path / "d"
        )
    messages.append(str(err.value))
    downloader.download(f"{server.base}/ok?{SAS}", tmp_path / "d")
    for text in [*messages, caplog.text]:
        assert "S3CRET" not in text and "sig=" not in text and "sv=" not in text
        assert TOKEN not in text


# --- file names and URLs for display --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("train.jsonl", "train.jsonl"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\train.jsonl", "train.jsonl"),
        ("..hidden.jsonl", "hidden.jsonl"),
        ("a\x00b\x1bc\u202e.jsonl", "abc.jsonl"),
        ("line\nbreak.jsonl", "line break.jsonl"),
        ("", "dataset.jsonl"),
        ("...", "dataset.jsonl"),
        (None, "dataset.jsonl"),
    ],
)
def test_safe_filename(raw: str | None, shown: str) -> None:
    assert safe_filename(raw) == shown


def test_safe_filename_is_short_and_keeps_the_extension() -> None:
    name = safe_filename("x" * 300 + ".jsonl")
    assert len(name) == 100 and name.endswith(".jsonl")
    assert len(safe_filename("y" * 300)) == 100


def test_safe_url_drops_credentials_query_and_fragment() -> None:
    assert safe_url(f"https://u:p@acct.blob.core.windows.net/c/train.jsonl?{SAS}#frag") == (
        "https://acct.blob.core.windows.net/c/train.jsonl"
    )
    assert safe_url("http://[::1]:8080/x?y=1") == "http://[::1]:8080/x"
    assert len(safe_url("https://h/" + "a" * 500)) < 150


# --- TLS: connect to the pinned address, verify the certificate against the host name ----------------


def _tls_context_for(hostname: str, tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a self-signed certificate for hostname, client context trusting it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    return server_ctx, client_ctx


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    d = tmp_path / "tls"
    d.mkdir()
    return d


@pytest.mark.parametrize(("cert_for", "works"), [("secure.test", True), ("other.test", False)])
def test_https_connects_to_the_checked_address_and_verifies_the_name(
    cert_for: str, works: bool, tls_dir: Path, tmp_path: Path
) -> None:
    server_ctx, client_ctx = _tls_context_for(cert_for, tls_dir)
    s = Server(routes={"/train.jsonl": ok(), "/down": redirect("http://127.0.0.1:1/x")})
    httpd = _serve(s, server_ctx)
    try:
        dns = FakeDNS({"secure.test": ["127.0.0.1"]})
        downloader = make(["secure.test", "127.0.0.1"], dns, verify=client_ctx)
        url = f"https://secure.test:{s.port}/train.jsonl?{SAS}"
        if works:
            assert downloader.download(url, tmp_path / "d").size == len(BODY)
            assert s.seen[0].headers["host"] == f"secure.test:{s.port}"
            with pytest.raises(InvalidInput, match="https to plain http"):
                downloader.download(f"https://secure.test:{s.port}/down", tmp_path / "d")
        else:
            with pytest.raises(InvalidInput, match="certificate") as err:
                downloader.download(url, tmp_path / "d")
            assert "S3CRET" not in str(err.value)
    finally:
        httpd.shutdown()
        httpd.server_close()
