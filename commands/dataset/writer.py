"""Preparing a dataset for upload: Azure wants JSONL as UTF-8 with a byte-order mark."""

from __future__ import annotations

import os
from pathlib import Path

_BOM = b"\xef\xbb\xbf"


def write_for_azure(source: Path, dest: Path) -> Path:
    """Copy ``source`` to ``dest`` as UTF-8 with a BOM (whether or not ``source`` has one), one example
    per line, blank lines dropped, LF line ends, a final newline. ``dest`` may be ``source`` itself: the
    copy goes to a temporary file beside it and replaces it at the end. Streams; returns ``dest``."""
    source, dest = Path(source), Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with open(source, "rb") as src, open(tmp, "wb") as out:
            out.write(_BOM)
            first = True
            for raw in src:
                if first:
                    first = False  # pragma: no mutate (None: only its truthiness is read)
                    if raw.startswith(_BOM):
                        raw = raw[3:]
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    out.write(line)
                    out.write(b"\n")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
