"""What a download may show of itself: the URL without its secrets, a safe display name for the file, and
its size as people read it."""

from __future__ import annotations

import unicodedata
from urllib.parse import SplitResult, urlsplit

import httpx

from commands.errors import InvalidInput

MAX_NAME = 100


def parse_url(url: str, *, field: str | None = None) -> SplitResult:
    """A URL a person gave (a slash command's ``--data``/``--validation``/``validate URL``, the wizard's URL
    fields), split: an absolute ``http(s)://`` link with a host. ``InvalidInput`` naming ``field`` for
    anything else, including what ``urlsplit`` itself rejects (``http://[::1/train.jsonl``, a bad port).
    Which hosts may be fetched is ``bot.datasets.policy``'s business; this only reads the link."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise InvalidInput(
            "that is not a valid URL: check the brackets, host and port, and give a full https:// URL",
            field=field,
        ) from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise InvalidInput("that is not a link: give a full https:// URL", field=field)
    if scheme not in ("http", "https"):
        sep = "://" if "://" in text else ":"
        raise InvalidInput(f"{scheme}{sep} links are not accepted; give an https:// link", field=field)
    if "://" not in text:
        raise InvalidInput("that is not a link: give a full https:// URL", field=field)
    if not parts.hostname:
        raise InvalidInput("that link has no host: give a full https:// URL", field=field)
    return parts


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


def human_bytes(n: int) -> str:
    """A size as people read it: ``812 bytes``, ``3.4 MB``, ``1.5 GB`` (binary units, as Azure's limits
    are written: 512 MB is 512 × 1024 × 1024 bytes)."""
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
