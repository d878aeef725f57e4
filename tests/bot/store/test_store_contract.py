"""The store contract suite on the SQL store (SQLite and PostgreSQL) and on the in-memory fake that
``tests/commands/`` uses, so the fake cannot drift from the real store."""

from __future__ import annotations

import pytest

from bot.store.db import Database
from bot.store.repo import SqlStore
from tests.contract.store_suite import SchedulerStoreContract, StoreContract
from tests.support.memory_store import MemoryStore


class TestSqlStore(StoreContract, SchedulerStoreContract):
    @pytest.fixture
    def store(self, database: Database) -> SqlStore:
        return SqlStore(database)


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()
