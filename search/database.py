"""The catalog's database: connecting (SQLite in WAL mode, read-only for searchers, or any
SQLAlchemy URL such as PostgreSQL), creating and migrating the schema, the one-writer lock of a
shared PostgreSQL catalog, and what a database's error means to a person (one line, what to do)."""

from __future__ import annotations

import os
import sqlite3
import stat
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from altclip_core.errors import AltCLIPError
from search.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Base,
    Meta,
    PendingPhoto,
    Photo,
    Reading,
)


def catalog_url(library: Path, url: str | None = None) -> str:
    return url or f"sqlite:///{library / 'catalog.sqlite'}"


WRITER_LOCK = 0x616C74636C6970  # the advisory lock's key: 'altclip' in ASCII


class CatalogError(AltCLIPError):
    """The catalog cannot be used as it is; the message says what to do."""


class NoCatalog(CatalogError):
    """There is no library (yet) where a searcher looked."""


def connect(url: str, read_only: bool = False) -> Engine:
    """An engine with the schema in place (migrated stepwise from older versions). SQLite runs in
    WAL mode so searchers read while an indexer writes. `read_only` (searchers) writes nothing,
    so that a library on read-only storage searches, unless the schema needs upgrading. A
    catalog that cannot be opened is a CatalogError that says what to do."""
    try:
        if read_only:
            engine = _engine(url, read_only=True)
            with Session(engine) as s:
                version = _version(s)
            if version is None:
                raise NoCatalog(f"{shown(url)} holds no library (yet): run altclip-index")
            if version == SCHEMA_VERSION:
                return engine
            engine.dispose()  # another version: upgraded once by whoever opens it, or refused
        return _prepare(_engine(url))
    except SQLAlchemyError as e:
        raise CatalogError(f"cannot open the catalog {shown(url)}: {advice(e, url)}") from None
    except ModuleNotFoundError as e:  # the URL's database driver
        raise CatalogError(f"cannot open the catalog {shown(url)}: {no_driver(e)}") from None


def no_driver(e: ModuleNotFoundError) -> str:
    """What to do where a catalog URL's database driver is not installed."""
    package = DRIVERS.get(e.name or "", e.name)
    return f"its database driver {e.name} is not installed: pip install {package}"


@contextmanager
def one_writer(url: str | None) -> Iterator[None]:
    """The only writer of the PostgreSQL catalog at `url`, whichever library folder it writes
    for: a session advisory lock, held on a connection of its own (the server drops it with the
    connection, so a killed indexer holds nothing). A SQLite catalog lives in its library folder,
    whose lock the indexer holds."""
    if not (url or "").startswith("postgresql"):
        yield
        return
    try:
        engine = create_engine(url)
    except ModuleNotFoundError as e:
        raise CatalogError(f"cannot open {shown(url)}: {no_driver(e)}") from None
    try:
        c = engine.connect()
        locked = c.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": WRITER_LOCK}).scalar()
    except SQLAlchemyError as e:
        engine.dispose()
        raise CatalogError(f"cannot open {shown(url)}: {advice(e, url)}") from None
    try:
        if not locked:
            raise CatalogError(
                "another altclip-index is writing to this catalog (perhaps for another "
                "--library folder); wait for it to finish"
            )
        yield
    finally:
        try:
            c.close()  # and with the connection, the lock
        except SQLAlchemyError:
            pass  # the server went away, and the lock with it: the run's own error says so
        engine.dispose()


def error_line(e: SQLAlchemyError) -> str:
    """A database error in one line, without SQLAlchemy's background link."""
    return f"{type(e).__name__}: {str(e).splitlines()[0]}"


# A driver's module -> the package that installs it, where the names differ.
DRIVERS = {"MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary", "pymysql": "PyMySQL"}

# What the database says -> what to do about it (the first that the message holds).
ADVICE = {
    "sqlite": [
        (("disk is full", "no space"), "free space on the disk that holds {where}"),
        (
            ("not a database", "malformed", "corrupt"),
            "{where} is damaged: move it aside (keep it) and run altclip-index again, which "
            "makes a new catalog",
        ),
        (("readonly", "read-only"), "{where} cannot be written: check its permissions"),
        (
            ("unable to open", "disk i/o"),
            "check that {where} and its folder exist and can be read (and written, to index)",
        ),
    ],
    "postgresql": [
        (
            ("connect", "connection", "server closed", "terminat"),
            "is the PostgreSQL server running and reachable? check it and the --catalog URL, "
            "then run again (a stopped run finishes where it stopped)",
        ),
        (("does not exist", "authentication", "password"), "check the --catalog URL"),
    ],
}


def advice(e: SQLAlchemyError, url: str) -> str:
    """The database's error in one line and what to do about it."""
    said = error_line(e)
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    where = url[len("sqlite:///") :] if dialect == "sqlite" else shown(url)
    for words, advice in ADVICE[dialect]:
        if any(w in said.lower() for w in words):
            return f"{said}; {advice.format(where=where)}"
    return f"{said}; check the --catalog URL"


def shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


def _writable_by_owner(path: str) -> None:
    """SQLite gives the -wal and -shm files it makes the catalog file's mode: a searcher on a
    read-only catalog.sqlite leaves them read-only, and a writer, once the catalog is writable
    again, fails on them. Ours are made writable for their owner (a file's mode, not its bytes:
    harmless to a connection that has it open)."""
    for side in (path + "-wal", path + "-shm"):
        try:
            st = os.stat(side)
            if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IWUSR:
                os.chmod(side, stat.S_IMODE(st.st_mode) | stat.S_IWUSR)
        except OSError:
            pass  # not there, or not ours to change


def _engine(url: str, read_only: bool = False) -> Engine:
    if url.startswith("sqlite:///"):
        _writable_by_owner(url[len("sqlite:///") :])
    if not read_only or not url.startswith("sqlite:///"):
        engine = create_engine(url)
    else:
        engine = create_engine(  # a pool for files: Streamlit's threads share it
            "sqlite://", creator=lambda: _read_only(url[len("sqlite:///") :]), poolclass=QueuePool
        )
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _):
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.text_factory = _text  # a damaged row's text must not stop every read

    return engine


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _read_only(path: str) -> sqlite3.Connection:
    """A connection that cannot write. On storage this user cannot write to, SQLite cannot make
    the WAL index it needs for a shared read: there nobody writes either, so the file is read
    as immutable."""
    uri = f"file:{urllib.parse.quote(path)}"
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master")
        _writable_by_owner(path)
        return conn
    except sqlite3.OperationalError:
        conn.close()
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)


def _version(s: Session) -> int | None:
    if not inspect(s.connection()).has_table(Meta.__tablename__):
        return None
    row = s.get(Meta, "schema_version")
    return int(row.value) if row is not None else None


def _prepare(engine: Engine) -> Engine:
    """Create or migrate the schema."""
    with Session(engine) as s, s.begin():
        version = _version(s)
        if version is not None and version > SCHEMA_VERSION:
            raise CatalogError(
                f"catalog schema {version} is newer than this program's {SCHEMA_VERSION}: "
                "upgrade altclip-search"
            )
        if version is not None:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS.get(step, []):
                    s.execute(text(statement))
            s.get(Meta, "schema_version").value = str(SCHEMA_VERSION)
    Base.metadata.create_all(engine)
    for table in (Photo, PendingPhoto, Reading):  # catalogs made before an index gain it
        for index in table.__table__.indexes:
            index.create(engine, checkfirst=True)
    with Session(engine) as s, s.begin():
        if s.get(Meta, "schema_version") is None:
            s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            s.add(Meta(key="generation", value="0"))
        if s.get(Meta, "catalog_id") is None:
            s.add(Meta(key="catalog_id", value=uuid.uuid4().hex))
    return engine
