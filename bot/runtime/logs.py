"""Logging setup with a filter that scrubs secrets from every record, whatever logged them.

Two formats (``FTBOT_LOG_FORMAT``): ``text`` (one line per record, as always) and ``json`` (one JSON object
per line, python-json-logger): ``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message``, then the
fields the line concerns (``job_id``, ``endpoint``, ``team_id``, ``user``, ``ref``) and ``exc`` (the
traceback as one string). The fields come, first to last, from ``extra=``, from the message (the text
"(ref 7f3a2c)" that the error handler and the on-call page show users, and ftbot's own job and endpoint
names), or from ``log_context``: each Slack request is handled inside one that carries a ``ref`` minted
for it (``new_ref``), its team and its user, so every line logged while it is handled (by the tasks and
worker threads it starts too, after the ack as before) carries them, and a request that fails shows
the user that same ref.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import secrets
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_TOKEN = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_SIG = re.compile(r"(sig=)[A-Za-z0-9%._~+/=-]+")


class SecretFilter(logging.Filter):
    """Replaces known secret values and anything shaped like a Slack token, bearer credential or SAS
    signature with ``[redacted]``."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            self._secrets.update(v for v in values if v and len(v) >= 6)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        text = _TOKEN.sub("[redacted]", text)
        text = _BEARER.sub(r"\1[redacted]", text)
        return _SIG.sub(r"\1[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
            record.exc_info = None  # formatters print the scrubbed exc_text, never a fresh traceback
        return True


SECRETS = SecretFilter()

#: the fields a JSON line may carry beside time, level, logger, message and exc
CONTEXT_FIELDS = ("job_id", "endpoint", "team_id", "user", "ref")
_CONTEXT: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "ftbot_log_context", default=()
)
_REF = re.compile(r"\(ref ([0-9a-f]{4,16})\)")
#: ftbot's own names (``Jobs.new_job_id``: ft-<model>[-<suffix>]-<6 hex>; ``Deploys.endpoint_name``)
_JOB_ID = re.compile(r"(?<![\w-])(ft-[a-z0-9][a-z0-9-]{0,60}-[0-9a-f]{6})(?![\w-])")
_ENDPOINT = re.compile(r"(?<![\w-])(ftbot-[0-9a-f]{6}-\d{1,4})(?![\w-])")


def new_ref() -> str:
    """A fresh reference for one Slack request: short enough to read out, long enough that a day's
    requests do not share one."""
    return secrets.token_hex(3)


def current_ref() -> str | None:
    """The ``ref`` of the request being handled (the innermost ``log_context`` that set one)."""
    return dict(_CONTEXT.get()).get("ref")


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Every line logged inside (this task or thread, and what it starts) carries ``fields``."""
    merged = {**dict(_CONTEXT.get()), **{k: v for k, v in fields.items() if v and k in CONTEXT_FIELDS}}
    token = _CONTEXT.set(tuple(merged.items()))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Puts on each record the ``ref``, job and endpoint its message names, then the current
    ``log_context`` fields; ``extra=`` fields are never replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for key, pattern in (("ref", _REF), ("job_id", _JOB_ID), ("endpoint", _ENDPOINT)):
            if not hasattr(record, key):
                found = pattern.search(message)
                if found:
                    setattr(record, key, found.group(1))
        for key, value in _CONTEXT.get():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class FtbotJsonFormatter(JsonFormatter):
    """One JSON object per line, in the field order and with the names README documents."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exc"},
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {"time": self._now, **{k: _scrubbed(v) for k, v in log_data.items() if k != "stack_info"}}

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        self._now = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        return str(super().format(record))


def _scrubbed(value: Any) -> Any:
    return SECRETS.scrub(value) if isinstance(value, str) else value


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(FtbotJsonFormatter())
        logging.captureWarnings(True)  # warnings become JSON lines too
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter())
    handler.addFilter(SECRETS)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Bolt reads SLACK_BOT_TOKEN itself and warns that our client (which carries the same token and
    # SLACK_API_URL) wins; that is intended.
    logging.getLogger("slack_bolt.AsyncApp").addFilter(lambda r: "will be unused" not in r.getMessage())
    for noisy in ("azure", "urllib3", "httpx", "alembic", "slack_bolt.AsyncApp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "skipped: maximum number of running instances reached" is max_instances=1 doing its job
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
