"""The loopback server fixture of the dataset download tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot.datasets.loopback import Server, serve


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    httpd = serve(s)
    try:
        yield s
    finally:
        httpd.shutdown()
        httpd.server_close()
