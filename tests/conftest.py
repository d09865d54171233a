"""Shared fixtures: databases on SQLite and PostgreSQL, migrated the way `warroom serve` does it."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.db import Database, upgrade_async
from tests.support.databases import database_url

BOTH_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BOTH_DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database; tests that take it run once on each database."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warroom.db'}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    await upgrade_async(db_url)
    database = Database(db_url)
    yield database
    await database.dispose()
