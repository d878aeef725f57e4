import socket

import pytest

from tests.conftest import NetworkGuardError


def test_guard_refuses_non_loopback_connections() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkGuardError):
            s.connect(("93.184.216.34", 443))
    finally:
        s.close()


def test_guard_refuses_name_resolution_beyond_loopback() -> None:
    with pytest.raises(NetworkGuardError):
        socket.getaddrinfo("management.azure.com", 443)


def test_guard_allows_loopback() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.socket()
    try:
        c.connect(srv.getsockname())
    finally:
        c.close()
        srv.close()
