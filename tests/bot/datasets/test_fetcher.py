"""``bot.datasets.fetcher`` on loopback only: downloads, redirects, the bot token, size caps, HTML pages,
error mapping, what error messages and logs may show, and TLS to the pinned address."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import ssl
from pathlib import Path

import pytest

from bot.datasets.fetcher import SLACK_LOGIN_PAGE, URL_HTML_PAGE, Downloader, looks_like_html
from bot.datasets.policy import HostRule
from bot.demo.slack import FakeSlack
from bot.runtime.settings import Settings
from commands.errors import InvalidInput, Unavailable
from tests.bot.datasets.loopback import (
    BODY,
    SAS,
    TOKEN,
    FakeDNS,
    Server,
    leftovers,
    make,
    ok,
    redirect,
    reply,
    serve,
    slow,
    stream,
)

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
    server.routes["/r"] = reply(302)
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
    assert HostRule("127.0.0.1", 4567) in downloader.policy.slack_hosts
    assert HostRule("files.slack.com") in downloader.policy.slack_hosts
    assert HostRule("blob.core.windows.net", wildcard=True) in downloader.policy.allowed
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
    server.routes["/x"] = reply(
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
    caplog.set_level(logging.DEBUG, logger="bot.datasets.policy")
    server.routes |= {
        "/r": redirect(f"http://evil.test:{server.port}/x?{SAS}"),
        "/404": reply(404),
        "/500": reply(500),
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
    httpd = serve(s, server_ctx)
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
