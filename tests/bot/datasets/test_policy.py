"""``bot.datasets.policy`` through the downloader, on loopback only: the allow-list, schemes, user info,
plain http, and internal addresses (via an injected resolver), all refused before any byte is fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.datasets.policy import HostRule, blocked_address
from commands.errors import InvalidInput
from tests.bot.datasets.loopback import (
    SAS,
    FakeDNS,
    Server,
    make,
    ok,
)

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
