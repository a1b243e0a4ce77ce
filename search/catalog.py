"""The catalog: the library's source of truth, in any SQLAlchemy database (SQLite by default).

One row per photo file (path, size, mtime, content hash, dimensions, capture time, status and the
float32 embedding), one row naming the model that made the vectors, and a `generation` counter that
grows with every committed change to the vectors, so that a derived index can tell it is stale.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    event,
    false,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from altclip_core.errors import AltCLIPError

SCHEMA_VERSION = 2
# Stepwise: MIGRATIONS[v] takes a catalog from version v - 1 to v, in the catalog's transaction.
# Tables and indexes new in a version are made by create_all; columns added to a table are here.
MIGRATIONS = {2: ["ALTER TABLE photos ADD COLUMN offline BOOLEAN NOT NULL DEFAULT false"]}
OK, ERROR = "ok", "error"


class FsPath(TypeDecorator):
    """A file path as text. Names that are not UTF-8 (Python holds them with surrogate escapes,
    which no database accepts) are stored as `hex:` + their bytes; absolute paths never start so."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return "hex:" + os.fsencode(value).hex()

    def process_result_value(self, value, dialect):
        if value is not None and value.startswith("hex:"):
            return os.fsdecode(bytes.fromhex(value[4:]))
        return value


class Base(DeclarativeBase):
    pass


class PhotoColumns:
    """One photo file's row: in `photos`, and in `photos_rebuild` while a rebuild with another
    model fills it beside the library that keeps answering searches."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)  # absolute
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32, L2-normalised
    indexed_at: Mapped[float] = mapped_column(Float, index=True)
    # Under a folder the last run could not read (an unmounted drive, a permission change): kept,
    # with its vector, until the folder is seen again or the person removes it.
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype=np.float32)


class Photo(PhotoColumns, Base):
    __tablename__ = "photos"
    # Counts and the search filters read this index alone, never the rows' 3 KB embeddings:
    # 0.5 s instead of 3.8 s for a million photos.
    __table_args__ = (Index("ix_photos_facts", "status", "id", "path", "taken_at", "mtime_ns"),)


class PendingPhoto(PhotoColumns, Base):
    __tablename__ = "photos_rebuild"


class ModelInfo(Base):
    """The model whose vectors the catalog holds: one row at most."""

    __tablename__ = "model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)


class Meta(Base):
    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def catalog_url(library: Path, url: str | None = None) -> str:
    return url or f"sqlite:///{library / 'catalog.sqlite'}"


def connect(url: str) -> Engine:
    """An engine with the schema in place. SQLite runs in WAL mode so searchers read while an
    indexer writes. A catalog that cannot be opened is a CatalogError that says what to do."""
    try:
        return _connect(url)
    except SQLAlchemyError as e:
        raise CatalogError(
            f"cannot open the catalog {_shown(url)} ({error_line(e)}): check the URL, or move a "
            "damaged catalog.sqlite aside and run altclip-index again"
        ) from None


def error_line(e: SQLAlchemyError) -> str:
    """A database error in one line, without SQLAlchemy's background link."""
    return f"{type(e).__name__}: {str(e).splitlines()[0]}"


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


def _connect(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")

    with Session(engine) as s, s.begin():
        fresh = not inspect(s.connection()).has_table(Meta.__tablename__)
        version = None if fresh else s.get(Meta, "schema_version")
        if version is not None and int(version.value) > SCHEMA_VERSION:
            raise CatalogError(
                f"catalog schema {version.value} is newer than this program's {SCHEMA_VERSION}: "
                "upgrade altclip-search"
            )
        if version is not None:
            for step in range(int(version.value) + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS.get(step, []):
                    s.execute(text(statement))
            version.value = str(SCHEMA_VERSION)
    Base.metadata.create_all(engine)
    for index in Photo.__table__.indexes:  # catalogs made before an index was added gain it
        index.create(engine, checkfirst=True)
    with Session(engine) as s, s.begin():
        if s.get(Meta, "schema_version") is None:
            s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            s.add(Meta(key="generation", value="0"))
    return engine


class CatalogError(AltCLIPError):
    """The catalog cannot be used as it is; the message says what to do."""


def generation(s: Session) -> int:
    return int(s.get(Meta, "generation").value)


def bump_generation(s: Session) -> None:
    """Call inside the transaction that changes vectors: the index stamp then reads as stale."""
    s.execute(update(Meta).where(Meta.key == "generation").values(value=str(generation(s) + 1)))


def model_info(s: Session) -> ModelInfo | None:
    return s.scalars(select(ModelInfo)).first()


def vectors(s: Session) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N] int64, embeddings [N, dim] float32) of every photo with a vector."""
    rows = s.execute(select(Photo.id, Photo.embedding).where(Photo.status == OK)).all()
    if not rows:
        info = model_info(s)
        return np.empty(0, np.int64), np.empty((0, info.dim if info else 0), np.float32)
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    return ids, np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)


def counts(s: Session) -> dict[str, int]:
    rows = s.execute(select(Photo.status, func.count()).group_by(Photo.status)).all()
    return {OK: 0, ERROR: 0} | dict(rows)


def pending_model(s: Session) -> dict | None:
    """The model a rebuild in progress embeds with ({name, fingerprint, dim}), or None."""
    row = s.get(Meta, "rebuild_model")
    return json.loads(row.value) if row is not None else None


def start_rebuild(s: Session, name: str, fingerprint: str, dim: int) -> None:
    """Begin (or resume, with the same model) filling `photos_rebuild`; the library is unchanged."""
    pending = pending_model(s)
    if pending is not None and pending["fingerprint"] == fingerprint:
        return
    s.execute(delete(PendingPhoto))
    s.merge(
        Meta(
            key="rebuild_model", value=json.dumps(dict(name=name, fingerprint=fingerprint, dim=dim))
        )
    )


def finish_rebuild(s: Session) -> None:
    """Replace the library by the rebuilt one, in this one transaction: a searcher sees the old
    photos and model or the new ones, never a mix, and a kill before the commit changes nothing."""
    pending = pending_model(s)
    columns = [c.name for c in Photo.__table__.columns]
    s.execute(delete(Photo))
    source = select(*(PendingPhoto.__table__.c[name] for name in columns))
    s.execute(insert(Photo.__table__).from_select(columns, source))
    s.execute(delete(PendingPhoto))
    s.execute(delete(ModelInfo))
    s.add(ModelInfo(name=pending["name"], fingerprint=pending["fingerprint"], dim=pending["dim"]))
    s.execute(delete(Meta).where(Meta.key == "rebuild_model"))
    bump_generation(s)
