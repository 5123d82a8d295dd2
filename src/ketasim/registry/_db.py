"""Where the registry lives: an embedded SQLite file by default (WAL mode, foreign keys on),
or a clinic's PostgreSQL (``postgresql+psycopg://…``); the schema is made and upgraded by
the Alembic migrations shipped with the package, never by ``create_all``."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ketasim.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMES = ("sqlite", "postgresql+psycopg")


class RegistryError(InputError):
    """A registry request refused: bad input, an unknown record, or no permission."""


class RecordNotFoundError(RegistryError):
    """No such record for this user: an unknown id and another site's id look the same."""


MIN_SQLITE = (3, 35)
"""UPDATE … RETURNING (the failed sign-in count) and ALTER TABLE … DROP COLUMN (migrations)."""


def default_url() -> str:
    """``sqlite:///…/ketasim/registry.db`` under the user's data directory (XDG)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'ketasim' / 'registry.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _private_file(path: Path) -> None:
    """A new SQLite registry readable by its owner only (HIPAA §164.312(a)(1)): missing folders
    are made 0700 and the file 0600 (SQLite gives its -wal and -shm files the same mode); an
    existing file keeps the mode its owner chose."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def connect(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine for ``url`` (default :func:`default_url`); refuses other databases, and
    without ``create`` an SQLite file that does not exist (nothing is created)."""
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError:  # the URL may hold a password: never echo it
        raise RegistryError.one("db", "not a database URL; allowed: sqlite:///PATH, postgresql+psycopg://…") from None
    if parsed.drivername not in SCHEMES:
        raise RegistryError.one("db", f"{parsed.drivername!r} is not supported; allowed: {', '.join(SCHEMES)}")
    if parsed.drivername == "sqlite":
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise RegistryError.one(
                "db", f"SQLite {sqlite3.sqlite_version} is too old: {'.'.join(map(str, MIN_SQLITE))} or later is needed"
            )
        if not parsed.database or parsed.database == ":memory:":
            raise RegistryError.one("db", "an SQLite registry needs a file path: sqlite:///PATH")
        if not create and not Path(parsed.database).is_file():
            raise RegistryError.one("db", "holds no ketasim registry yet: create it with `ketasim clinic init`")
        _private_file(Path(parsed.database))
    engine = create_engine(parsed, future=True)
    if parsed.drivername == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def is_initialised(engine: Engine) -> bool:
    """Whether the registry's tables exist."""
    return inspect(engine).has_table("alembic_version")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed whole, or rolled back whole on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
