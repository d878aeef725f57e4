"""Which dataset URLs ftbot may fetch, and from which addresses: the checks made before any byte is
requested, on the first URL and on every redirect.

- **Schemes.** Only ``https``. Plain ``http`` only for a host listed *exactly* (no wildcard) in
  FTBOT_DATA_URL_HOSTS that is, or resolves only to, a loopback address (local testing). ``file:``,
  ``ftp:``, ``gopher:``, ``data:`` and everything else are refused, as are URLs carrying a user name or
  password.
- **Hosts.** The host must match the allow-list (``host``, ``host:port``, ``*.example.com``; a wildcard
  matches subdomains only). A host that resolves to a loopback, private, link-local, multicast, reserved,
  unspecified or otherwise non-global address (IPv4 and IPv6, including IPv4-mapped, 6to4, Teredo and
  NAT64 forms) is refused unless that exact host is listed. If *any* address in the DNS answer is
  internal the host is refused.
- **Slack files.** An uploaded file's link must point at a Slack file host (files.slack.com or the
  SLACK_API_URL origin, exact names: the bot token is sent to them); it may redirect to Slack's own
  domains besides the allow-list.
- **DNS.** Each host is resolved once per download (``checked``); the ``Target`` carries the checked
  addresses, and the fetcher connects to those only.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from bot.datasets.names import parse_url, safe_url
from commands.errors import InvalidInput

logger = logging.getLogger(__name__)

SLACK_FILE_HOST = "files.slack.com"
# Where a Slack file link may redirect to (without the token), besides FTBOT_DATA_URL_HOSTS: Slack's own
# domains. Wildcards, so the internal-address check still applies to them.
SLACK_REDIRECT_HOSTS = ("*.slack.com", "*.slack-edge.com")

Resolver = Callable[[str], list[str]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


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


def all_loopback(ips: Sequence[str]) -> bool:
    try:
        return bool(ips) and all(ipaddress.ip_address(ip.split("%", 1)[0]).is_loopback for ip in ips)
    except ValueError:
        return False


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
class Target:
    """A URL that passed the checks, with the addresses it may be fetched from."""

    url: httpx.URL
    host: str  # normalised, for rules and messages
    raw_host: str  # exactly what httpcore will ask the network backend to connect to
    port: int
    ips: tuple[str, ...]
    exact: bool  # the host is listed exactly (no wildcard) in the rules it was checked against


def _parse(url: str, *, field: str | None) -> httpx.URL:
    """The URL, if it is an absolute http(s) link without user info."""
    shown = safe_url(url)
    parse_url(url, field=field)  # the one reading of a link a person gave (scheme, host, urlsplit)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as e:
        raise InvalidInput(f"{shown} is not a valid URL", field=field) from e
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput(f"{parsed.scheme}:// links are not accepted; give an https:// link", field=field)
    if parsed.userinfo:
        raise InvalidInput(f"{shown}: links with a user name or password are not accepted", field=field)
    return parsed


class UrlPolicy:
    """The allow-list (FTBOT_DATA_URL_HOSTS), the Slack file hosts, and the DNS answers they are judged
    on. ``resolver`` maps a host name to its IP addresses (default: the system resolver); tests inject
    one to simulate DNS answers."""

    def __init__(
        self,
        allowed_hosts: Sequence[str],
        *,
        slack_file_hosts: Sequence[str] = (SLACK_FILE_HOST,),
        resolver: Resolver | None = None,
    ) -> None:
        self.allowed = [HostRule.parse(h) for h in allowed_hosts if h.strip()]
        self.slack_hosts = [HostRule.parse(h) for h in slack_file_hosts if h.strip()]
        if any(r.wildcard for r in self.slack_hosts):
            raise ValueError("Slack file hosts must be exact host names (the bot token is sent to them)")
        self.slack_redirects = [HostRule.parse(h) for h in SLACK_REDIRECT_HOSTS]
        self.resolver: Resolver = resolver or system_resolver

    def is_slack_file_host(self, host: str, port: int) -> bool:
        return any(r.matches(host, port) for r in self.slack_hosts)

    def check(
        self,
        url: str,
        *,
        slack: bool,
        first: bool,
        field: str | None,
        checked: dict[tuple[str, int], Target],
    ) -> Target:
        """The ``Target`` for a URL, or ``InvalidInput`` saying why it is refused. ``slack``: an uploaded
        file's link (``first``: before any redirect). ``checked`` holds this download's hosts already
        resolved, so a host is looked up once per download."""
        shown = safe_url(url)
        parsed = _parse(url, field=field)
        raw_host = parsed.raw_host.decode("ascii")
        host = _normal_host(raw_host)
        if not host:
            raise InvalidInput(f"{shown} has no host", field=field)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if (host, port) in checked:
            cached = checked[(host, port)]
            if parsed.scheme == "http" and not all_loopback(cached.ips):
                raise InvalidInput(f"{shown}: plain http is refused; give an https:// link", field=field)
            return Target(parsed, host, raw_host, port, cached.ips, cached.exact)

        rules = self._rules(host, port, shown, slack=slack, first=first, field=field)
        exact = any(not r.wildcard and r.matches(host, port) for r in rules)
        ips = self._resolve(raw_host, host, shown, field=field)
        if not exact:
            self._refuse_internal(ips, host, shown, field=field)
        if parsed.scheme == "http" and not (exact and all_loopback(ips)):
            raise InvalidInput(
                f"{shown}: plain http is refused; give an https:// link "
                "(http is only allowed for a loopback host listed exactly in FTBOT_DATA_URL_HOSTS)",
                field=field,
            )
        target = Target(parsed, host, raw_host, port, tuple(ips), exact)
        checked[(host, port)] = target
        return target

    def _rules(
        self, host: str, port: int, shown: str, *, slack: bool, first: bool, field: str | None
    ) -> list[HostRule]:
        """The rules the host is judged by; ``InvalidInput`` when none of them matches it."""
        if slack and first:
            if not self.is_slack_file_host(host, port):
                raise InvalidInput(
                    f"refusing to fetch the uploaded file from {shown}: Slack file links must point at "
                    f"{SLACK_FILE_HOST}",
                    field=field,
                )
            return self.slack_hosts
        rules = [*self.slack_hosts, *self.slack_redirects, *self.allowed] if slack else self.allowed
        if not any(r.matches(host, port) for r in rules):
            where = "redirects to" if not first else "is on"
            raise InvalidInput(
                f"{shown} {where} a host that is not allowed ({host}); allowed hosts are set in "
                f"FTBOT_DATA_URL_HOSTS",
                field=field,
            )
        return rules

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

    @staticmethod
    def _refuse_internal(ips: Sequence[str], host: str, shown: str, *, field: str | None) -> None:
        """Refuse a host if any address it resolves to is internal (the message never names it)."""
        for ip in ips:
            why = blocked_address(ip)
            if why is not None:
                logger.warning("download refused: %s resolves to %s address %s", host, why, ip)
                raise InvalidInput(
                    f"{shown}: the host resolves to an internal network address ({why}), refused; "
                    "an operator can list this exact host in FTBOT_DATA_URL_HOSTS if that is intended",
                    field=field,
                )
