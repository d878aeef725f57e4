"""Logging setup with a filter that scrubs secrets from every record, whatever logged them."""

from __future__ import annotations

import logging
import re
import sys
import threading

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
        return True


SECRETS = SecretFilter()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
