"""Purge the view state kept server-side once it has expired (wizards abandoned mid-way), so the table
holds only the forms people may still submit. Idempotent: a second run in the same hour deletes nothing."""

from __future__ import annotations

import logging

from commands.ports import Clock, Store

log = logging.getLogger("ftbot.view_states")


def purge_view_states(store: Store, clock: Clock) -> int:
    """Delete every view state expired by now; returns how many."""
    with store.transaction() as tx:
        purged = tx.purge_view_states(clock.now())
    if purged:
        log.info("purged %d expired view states", purged)
    return purged
