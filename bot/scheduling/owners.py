"""Which process owners (``host-pid-random``, see ``Services.owner``) crashed: for taking over their
leases and answering the launches they left unfinished."""

from __future__ import annotations

import os
import socket
from collections.abc import Collection


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def crashed_owners(owners: Collection[str], alive: Collection[str]) -> set[str]:
    """The owners that were earlier processes on this host and are gone: their pid is dead, or is one of
    this serve's own processes now (a container restarts with the same pids) under another name than the
    ``alive`` ones. Owners on other hosts are left to time out."""
    host = socket.gethostname()[:30]
    ours = {os.getpid(), os.getppid()}
    out = set()
    for owner in set(owners) - set(alive):
        owner_host, _, pid = owner.rpartition("-")[0].rpartition("-")
        if owner_host == host and pid.isdigit() and (int(pid) in ours or not _pid_alive(int(pid))):
            out.add(owner)
    return out
