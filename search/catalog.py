"""The catalog: the library's source of truth, in any SQLAlchemy database (SQLite by default).

One row per photo file (path, size, mtime, content hash, dimensions, capture time, status and the
float32 embedding), one row naming the model that made the vectors, and a `generation` counter that
grows with every committed change. Each row records the generation it last changed in, and removed
photos are remembered, so that an index made at generation G learns what changed since in one
query. `Catalog` holds every SQL statement of the project.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import time
import unicodedata
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    and_,
    create_engine,
    delete,
    event,
    false,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

from altclip_core.errors import AltCLIPError

SCHEMA_VERSION = 2
# Stepwise: MIGRATIONS[v] takes a catalog from version v - 1 to v, in the catalog's transaction.
# Tables and indexes new in a version are made by create_all; columns added to a table are here.
MIGRATIONS = {
    2: [
        "ALTER TABLE photos ADD COLUMN offline BOOLEAN NOT NULL DEFAULT false",
        "ALTER TABLE photos ADD COLUMN generation BIGINT NOT NULL DEFAULT 0",
    ]
}
OK, ERROR = "ok", "error"
CHUNK = 20_000  # rows per read when streaming vectors: 60 MB of 768-d float32
UNIT = 1e-3  # how far a stored vector's length may be from 1 (float32 rounding is ~1e-7)
SHA256 = re.compile(r"[0-9a-f]{64}")


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
    # The catalog generation in which the row last changed: "what changed since G" is one query.
    generation: Mapped[int] = mapped_column(BigInteger, index=True, default=0, server_default="0")

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype=np.float32)


def damage(embedding: bytes | None, dim: int) -> str | None:
    """What is wrong with a stored vector (the wrong size, not finite, not of unit length), or
    None where it is sound. Every vector is checked where it is read: a damaged row is left out
    of searches and made again by the next indexer run."""
    if embedding is None or len(embedding) != 4 * dim:
        return f"a vector of {len(embedding or b'')} bytes where {4 * dim} belong"
    v = np.frombuffer(embedding, np.float32)
    if not np.isfinite(v).all():
        return "a vector that is not finite"
    if abs(float(v @ v) - 1) > 2 * UNIT:
        return f"a vector of length {float(np.sqrt(v @ v)):.4g}, not 1"
    return None


class Photo(PhotoColumns, Base):
    __tablename__ = "photos"
    # Counts and the search filters read this index alone, never the rows' 3 KB embeddings:
    # 0.5 s instead of 3.8 s for a million photos.
    __table_args__ = (
        Index("ix_photos_facts", "status", "id", "path", "taken_at", "mtime_ns"),
        {"sqlite_autoincrement": True},  # a removed photo's id is never given to another
    )


class PendingPhoto(PhotoColumns, Base):
    __tablename__ = "photos_rebuild"


class Removal(Base):
    """A photo removed from the library, remembered so that an index made before knows."""

    __tablename__ = "removals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the photo's id
    generation: Mapped[int] = mapped_column(BigInteger, index=True)


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


WRITER_LOCK = 0x616C74636C6970  # the advisory lock's key: 'altclip' in ASCII


class CatalogError(AltCLIPError):
    """The catalog cannot be used as it is; the message says what to do."""


class NoCatalog(CatalogError):
    """There is no library (yet) where a searcher looked."""


@dataclass(frozen=True)
class Model:
    name: str
    fingerprint: str
    dim: int


@dataclass(frozen=True)
class Known:
    """What the catalog knows of a file, to tell whether it changed."""

    size: int
    mtime_ns: int
    sha256: str | None
    status: str
    offline: bool


@dataclass
class Record:
    """One file's row as the indexer writes it: a vector, or the reason it has none."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    error: str | None = None
    embedding: bytes | None = None  # float32, L2-normalised


@dataclass(frozen=True)
class Changes:
    """What changed since a generation: the photos to score from here on (ids, vectors) and the
    ids whose older vectors no longer count (changed, failed or removed)."""

    generation: int
    ids: np.ndarray  # [N] int64
    vectors: np.ndarray  # [N, dim] float32
    dead: np.ndarray  # [M] int64


class Catalog:
    """Every statement the project runs against its database, by name."""

    def __init__(self, engine: Engine, url: str | None = None):
        self.engine, self.url = engine, url or engine.url.render_as_string()

    @classmethod
    def open(cls, library: Path, url: str | None = None, create: bool = True) -> Catalog:
        """The catalog of `library` (or at `url`). Without `create` (searchers, reports), a
        library folder that holds no catalog is a CatalogError rather than a new empty catalog,
        and nothing is written."""
        if not create and url is None and not (Path(library) / "catalog.sqlite").is_file():
            raise NoCatalog(
                f"no library in {library}: build one with  altclip-index PHOTOS --library {library}"
            )
        url = catalog_url(Path(library), url)
        return cls(connect(url, read_only=not create), url)

    def close(self) -> None:
        """Close the catalog's connections (SQLite then folds its WAL into the file)."""
        self.engine.dispose()

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        """A session (in a transaction that commits at the end, for `write`); a database error
        inside becomes a CatalogError, so that front ends catch one type."""
        try:
            with Session(self.engine) as s:
                if write:
                    with s.begin():
                        yield s
                else:
                    yield s
        except SQLAlchemyError as e:
            raise CatalogError(
                f"the catalog {_shown(self.url)} failed: {_advice(e, self.url)}"
            ) from None

    # -- the library as a whole --------------------------------------------------------------------

    def generation(self) -> int:
        with self._session() as s:
            return _generation(s)

    def floor(self) -> int:
        """Indexes made before this generation describe another library (a rebuild replaced
        every vector): they must not be used."""
        with self._session() as s:
            row = s.get(Meta, "floor")
            return int(row.value) if row is not None else 0

    def model(self) -> Model | None:
        with self._session() as s:
            info = s.scalars(select(ModelInfo)).first()
            return Model(info.name, info.fingerprint, info.dim) if info else None

    def set_model(self, model: Model) -> None:
        """Record the model of a library that has none yet."""
        with self._session(write=True) as s:
            s.add(ModelInfo(name=model.name, fingerprint=model.fingerprint, dim=model.dim))
            _bump(s)

    def counts(self) -> dict[str, int]:
        with self._session() as s:
            rows = s.execute(select(Photo.status, func.count()).group_by(Photo.status)).all()
        return {OK: 0, ERROR: 0} | dict(rows)

    def last_indexed(self) -> datetime | None:
        with self._session() as s:
            last = s.scalar(select(func.max(Photo.indexed_at)))
        return datetime.fromtimestamp(last) if last else None

    def failures(self) -> list[tuple[str, str]]:
        """(path, reason) of every file that could not be indexed, by path."""
        with self._session() as s:
            query = select(Photo.path, Photo.error).where(Photo.status == ERROR)
            return [tuple(r) for r in s.execute(query.order_by(Photo.path))]

    def hashes_in_use(self) -> set[str]:
        with self._session() as s:
            return set(s.scalars(select(Photo.sha256).where(Photo.status == OK)))

    # -- what the indexer reads and writes (`rebuild`: the table a rebuild fills) -----------------

    def known(self, rebuild: bool = False) -> dict[str, Known]:
        table = _table(rebuild)
        columns = (table.path, table.size, table.mtime_ns, table.sha256, table.status)
        with self._session() as s:
            return {r[0]: Known(*r[1:]) for r in s.execute(select(*columns, table.offline))}

    def copy_of(self, sha256: str, rebuild: bool = False) -> Record | None:
        """A photo with these bytes and a vector, to copy instead of embedding again."""
        table = _table(rebuild)
        with self._session() as s:
            query = select(table).where(table.sha256 == sha256, table.status == OK)
            dim = _pending(s).dim if rebuild else _dim(s)
            row = next((r for r in s.scalars(query) if not damage(r.embedding, dim)), None)
            if row is None:
                return None
            return Record(
                row.path,
                row.size,
                row.mtime_ns,
                row.sha256,
                row.width,
                row.height,
                row.taken_at,
                None,
                row.embedding,
            )

    def store(self, records: list[Record], rebuild: bool = False) -> None:
        """Write a batch of files' rows in one transaction: a kill loses this batch only."""
        table = _table(rebuild)
        with self._session(write=True) as s:
            generation = _bump(s)
            rows = {}
            for chunk in _chunks([r.path for r in records]):
                rows.update(
                    (row.path, row) for row in s.scalars(select(table).where(table.path.in_(chunk)))
                )
            fresh = []
            for r in records:
                values = dict(
                    r.__dict__,
                    status=OK if r.embedding is not None else ERROR,
                    indexed_at=time.time(),
                    offline=False,
                    generation=generation,
                )
                if r.path in rows:
                    for key, value in values.items():
                        setattr(rows[r.path], key, value)
                else:
                    fresh.append(values)
            if fresh:
                s.execute(insert(table), fresh)

    def finish_run(self, gone: list[str], offline: dict[str, bool], rebuild: bool = False) -> None:
        """Forget the files that are gone, mark those out of reach (or back), and, for a
        rebuild, replace the library by the rebuilt one: all in one transaction."""
        table = _table(rebuild)
        with self._session(write=True) as s:
            generation = _bump(s)
            for chunk in _chunks(gone):
                ids = s.scalars(select(table.id).where(table.path.in_(chunk))).all()
                s.execute(delete(table).where(table.id.in_(ids)))
                if not rebuild and ids:  # an id SQLite gave again may have been removed before
                    s.execute(delete(Removal).where(Removal.id.in_(ids)))
                    s.execute(insert(Removal), [dict(id=i, generation=generation) for i in ids])
            for state in (True, False):
                for chunk in _chunks([p for p, v in offline.items() if v == state]):
                    s.execute(update(table).where(table.path.in_(chunk)).values(offline=state))
            if rebuild:
                self._switch(s, generation)

    def pending_model(self) -> Model | None:
        """The model a rebuild in progress embeds with, or None."""
        with self._session() as s:
            return _pending(s)

    def start_rebuild(self, model: Model) -> None:
        """Begin (or resume, with the same model) filling `photos_rebuild`; the library is
        unchanged."""
        with self._session(write=True) as s:
            pending = _pending(s)
            if pending is not None and pending.fingerprint == model.fingerprint:
                return
            s.execute(delete(PendingPhoto))
            s.merge(Meta(key="rebuild_model", value=json.dumps(model.__dict__)))

    def _switch(self, s: Session, generation: int) -> None:
        """The rebuilt library replaces the old one inside the caller's transaction: a searcher
        sees the old photos and model or the new ones, never a mix."""
        model = _pending(s)
        columns = [c.name for c in Photo.__table__.columns if c.name != "id"]  # new ids
        s.execute(delete(Photo))
        s.execute(delete(Removal))
        source = select(*(PendingPhoto.__table__.c[name] for name in columns))
        s.execute(insert(Photo.__table__).from_select(columns, source))
        s.execute(update(Photo).values(generation=generation))
        s.execute(delete(PendingPhoto))
        s.execute(delete(ModelInfo))
        s.add(ModelInfo(name=model.name, fingerprint=model.fingerprint, dim=model.dim))
        s.execute(delete(Meta).where(Meta.key == "rebuild_model"))
        s.merge(Meta(key="floor", value=str(generation)))

    def paths_outside(self, roots: list[str]) -> list[str]:
        """The library's photos outside `roots` (a rebuild embeds them too, so none is lost)."""
        with self._session() as s:
            return [p for p in s.scalars(select(Photo.path)) if not under(p, roots)]

    def forget_removals(self, up_to: int) -> None:
        """Removals an index of generation `up_to` already reflects need not be remembered."""
        with self._session(write=True) as s:
            s.execute(delete(Removal).where(Removal.generation <= up_to))

    # -- vectors, for the index -------------------------------------------------------------------

    def identity(self) -> str:
        """A random id given to the catalog when it was made: an index says which catalog it
        was made from, so one copied from another library is never used."""
        with self._session() as s:
            return s.get(Meta, "catalog_id").value

    def index_stamp(self) -> str | None:
        """The random stamp of the vector index last published from this catalog. An index is
        used only where its manifest carries the same stamp: a catalog restored from a backup,
        copied or rewound beside a newer index no longer has that index's stamp, whatever its
        generation says."""
        with self._session() as s:
            row = s.get(Meta, "index_stamp")
            return row.value if row is not None else None

    def stamp_index(self, stamp: str) -> None:
        """Record the stamp of the index just published (see `index_stamp`)."""
        with self._session(write=True) as s:
            s.merge(Meta(key="index_stamp", value=stamp))

    def reserve_ids(self, above: int) -> None:
        """Give no photo an id up to `above` from now on: ids an index of this catalog's future
        (its backup restored) has given out are never given again."""
        with self._session(write=True) as s:
            if s.get_bind().dialect.name == "sqlite":
                seq = "SELECT seq FROM sqlite_sequence WHERE name = 'photos'"
                if s.execute(text(seq)).first() is None:
                    s.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES ('photos', 0)"))
                s.execute(
                    text("UPDATE sqlite_sequence SET seq = max(seq, :n) WHERE name = 'photos'"),
                    {"n": above},
                )
            else:
                s.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('photos', 'id'), greatest(:n, "
                        "(SELECT coalesce(max(id), 0) FROM photos)), true)"
                    ),
                    {"n": above},
                )

    def make_durable(self) -> None:
        """Fold what was committed into the catalog's main file, and read it back from a new
        connection: a run reports only rows that are there. (A WAL file deleted while a
        searcher held the catalog would otherwise lose them when the searcher closes.) A
        CatalogError says where that failed; PostgreSQL's commits are durable already."""
        if self.engine.dialect.name != "sqlite":
            return
        path = self.url[len("sqlite:///") :]
        try:
            with self.engine.connect() as c:
                busy, logged, folded = c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
                expected = c.execute(text("SELECT value FROM meta WHERE key = 'generation'"))
                expected = expected.scalar()
            with sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True) as fresh:
                found = fresh.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            fresh.close()
        except (SQLAlchemyError, sqlite3.Error) as e:
            raise CatalogError(f"could not read back what this run wrote to {path}: {e}") from None
        if busy or logged != folded or found is None or found[0] != expected:
            raise CatalogError(
                f"this run's changes did not reach {path} (its -wal file was removed or is held "
                "by another program): run altclip-index again once nothing else uses the library"
            )

    def change_count(self, since: int) -> int:
        """Rows changed and photos removed after generation `since`."""
        with self._session() as s:
            changed = s.scalar(select(func.count()).where(Photo.generation > since))
            removed = s.scalar(select(func.count()).where(Removal.generation > since))
        return changed + removed

    def vector_count(self) -> int:
        with self._session() as s:
            return s.scalar(select(func.count()).where(Photo.status == OK))

    def vectors(self, chunk: int = CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids [n] int64, vectors [n, dim] float32) of every photo with a vector, by id, a chunk
        at a time. Consistent because the indexer, which publishes, is the only writer."""
        with self._session() as s:
            dim, last = _dim(s), -1
            while True:
                query = select(Photo.id, Photo.embedding).where(Photo.status == OK, Photo.id > last)
                rows = s.execute(query.order_by(Photo.id).limit(chunk)).all()
                if not rows:
                    return
                last = rows[-1][0]
                yield _unpack(rows, dim)[:2]

    def integrity(self) -> list[str]:
        """What the database finds wrong with its own file (SQLite's integrity check: pages,
        indexes), an empty list where nothing is."""
        if self.engine.dialect.name != "sqlite":
            return []  # PostgreSQL checks its pages itself
        with self._session() as s:
            found = s.execute(text("PRAGMA integrity_check(20)")).scalars().all()
        return [] if found == ["ok"] else found

    def damaged(self) -> list[tuple[str, str]]:
        """(path, what is wrong) of every photo whose row cannot be trusted: its vector is
        damaged (`damage`) or its content hash is not one. The indexer makes them again."""
        found = []
        with self._session() as s:
            dim, last = _dim(s), -1
            while True:
                query = select(Photo.id, Photo.path, Photo.sha256, Photo.embedding)
                query = query.where(Photo.status == OK, Photo.id > last)
                rows = s.execute(query.order_by(Photo.id).limit(CHUNK)).all()
                if not rows:
                    return found
                last = rows[-1][0]
                bad = set(_unpack([(r[0], r[3]) for r in rows], dim)[2].tolist())
                for i, path, sha, embedding in rows:
                    if i in bad:
                        found.append((path, damage(embedding, dim)))
                    elif not SHA256.fullmatch(sha or ""):
                        found.append((path, "a content hash that is not one"))

    def changes_since(self, generation: int, dim: int) -> Changes:
        """What changed after `generation`. The generation is read first: a change committed
        meanwhile may show here and again next time, which is harmless."""
        with self._session() as s:
            now = _generation(s)
            query = select(Photo.id, Photo.status, Photo.embedding)
            rows = s.execute(query.where(Photo.generation > generation)).all()
            gone = s.scalars(select(Removal.id).where(Removal.generation > generation)).all()
        ids, vectors, _ = _unpack([(i, e) for i, status, e in rows if status == OK], dim)
        dead = np.array([r[0] for r in rows] + list(gone), np.int64)
        return Changes(now, ids, vectors, dead)

    # -- what searchers read ----------------------------------------------------------------------

    def passing(
        self,
        folder: str | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        kinds: list[str] | None = None,
    ) -> np.ndarray:
        """Ids of the photos with a vector that pass the filters. `folder`: a folder name or part
        of one anywhere in the path (`旅行` finds …/旅行 2023/…), or an absolute path (that
        subtree); `after`/`before`: the capture date, else the file's time; `kinds`: extensions."""
        where = [Photo.status == OK]
        if folder:
            where.append(_in_folder(folder))
        if after is not None:
            where.append(_taken(after, "after"))
        if before is not None:
            where.append(_taken(before, "before"))
        if kinds:
            exts = ["." + k.lower().lstrip(".") for k in kinds]
            where.append(or_(*(Photo.path.iendswith(e, autoescape=True) for e in exts)))
        with self._session() as s:
            ids = s.scalars(select(Photo.id).where(*where)).all()
        return np.array(ids, np.int64)

    def photos(self, ids: list[int]) -> dict[int, Photo]:
        """The rows of `ids`, read 5 000 at a time (within every database's limit on a
        statement's parameters)."""
        found = {}
        with self._session() as s:
            for chunk in _id_chunks(ids):
                found |= {p.id: p for p in s.scalars(select(Photo).where(chunk))}
        return found

    def hashes(self, ids: list[int]) -> dict[int, str]:
        """{id: sha256} of the photos `ids`, read as `photos` reads them."""
        found = {}
        with self._session() as s:
            for chunk in _id_chunks(ids):
                found |= dict(s.execute(select(Photo.id, Photo.sha256).where(chunk)).all())
        return found

    def vector_of(self, photo: int | str) -> np.ndarray | None:
        """The stored vector of a photo, by id or path; None if it has none."""
        key = Photo.id == photo if isinstance(photo, int) else Photo.path == photo
        with self._session() as s:
            stored = s.scalar(select(Photo.embedding).where(key, Photo.status == OK))
            if stored is None or damage(stored, _dim(s)):
                return None
        return np.frombuffer(stored, np.float32).copy()

    def ids_of(self, sha256: str) -> list[int]:
        """The photos with a vector whose file has these bytes."""
        with self._session() as s:
            query = select(Photo.id).where(Photo.sha256 == sha256, Photo.status == OK)
            return list(s.scalars(query))

    def folders(self) -> list[str]:
        """The folders that directly hold photos with a vector, sorted (read from the index on
        (status, id, path, …), not the rows)."""
        with self._session() as s:
            paths = s.scalars(select(Photo.path).where(Photo.status == OK))
            return sorted({os.path.dirname(p) for p in paths})

    def path_of(self, photo_id: int) -> str | None:
        with self._session() as s:
            return s.scalar(select(Photo.path).where(Photo.id == photo_id, Photo.status == OK))


def under(path: str, roots: list[str]) -> bool:
    """Whether `path` is one of `roots` or inside one."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _id_chunks(ids: list[int], size: int = 5000):
    """`Photo.id IN (...)` conditions over `ids`, `size` at a time."""
    for start in range(0, len(ids), size):
        yield Photo.id.in_(ids[start : start + size])


def _in_folder(folder: str):
    """The photo lies under the absolute path `folder`, or `folder` is (part of) the name of a
    folder on its path: a "/" somewhere before it and after it. Paths stored as hex (not UTF-8)
    are matched on their bytes' hex, where a match could, very rarely, straddle two bytes.
    Typed in either Unicode form, it finds names stored in either (macOS writes NFD: Köln as
    o + a combining diaeresis); a NUL, which no name holds, finds nothing."""
    if "\x00" in folder:
        return false()
    forms = {unicodedata.normalize(form, folder) for form in ("NFC", "NFD")}
    return or_(*(_in_one_folder(f) for f in sorted(forms)))


def _in_one_folder(folder: str):
    if os.path.isabs(folder):
        prefix = folder.rstrip("/") + "/"
        return or_(
            Photo.path.startswith(prefix, autoescape=True),
            Photo.path.startswith("hex:" + os.fsencode(prefix).hex()),
        )
    part = folder.strip("/")
    return or_(
        Photo.path.ilike(f"%/%{_like(part)}%/%", escape="\\"),
        Photo.path.like(f"hex:%2f%{os.fsencode(part).hex()}%2f%"),
    )


def _like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _table(rebuild: bool):
    return PendingPhoto if rebuild else Photo


def _generation(s: Session) -> int:
    return int(s.get(Meta, "generation").value)


def _bump(s: Session) -> int:
    """The next generation, taken inside the transaction that makes it."""
    generation = _generation(s) + 1
    s.execute(update(Meta).where(Meta.key == "generation").values(value=str(generation)))
    return generation


def _dim(s: Session) -> int:
    return s.scalar(select(ModelInfo.dim)) or 0


def _pending(s: Session) -> Model | None:
    row = s.get(Meta, "rebuild_model")
    return Model(**json.loads(row.value)) if row is not None else None


def _unpack(rows, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, [n, dim] vectors) of the rows (id, embedding) whose vector is sound, and the ids of
    those whose vector is damaged (`damage`), checked a chunk at a time."""
    sized = [r for r in rows if r[1] is not None and len(r[1]) == 4 * dim]
    ids = np.fromiter((r[0] for r in sized), np.int64, len(sized))
    vectors = np.frombuffer(b"".join(r[1] for r in sized), np.float32).reshape(len(sized), dim)
    with np.errstate(all="ignore"):
        sound = np.isfinite(vectors).all(1) & (
            np.abs(np.einsum("nd,nd->n", vectors, vectors) - 1) <= 2 * UNIT
        )
    bad = {r[0] for r in rows} - set(ids[sound].tolist())
    return ids[sound], vectors[sound], np.array(sorted(bad), np.int64)


def _chunks(items: list, n: int = 500) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _taken(when: datetime, side: str):
    """The photo was taken (else its file last changed) on or after / before `when`."""
    ns = _ns(when)
    if side == "after":
        return or_(Photo.taken_at >= when, and_(Photo.taken_at.is_(None), Photo.mtime_ns >= ns))
    return or_(Photo.taken_at < when, and_(Photo.taken_at.is_(None), Photo.mtime_ns < ns))


def _ns(when: datetime) -> int:
    """Nanoseconds since 1970 as the database's 64-bit integer holds them: dates beyond its range
    (year 1 is 6e19 ns before 1970) or the time zone's are the ends of time."""
    try:
        ns = int(when.timestamp() * 1e9)
    except (ValueError, OverflowError, OSError):
        ns = -(2**63) if when.year < 1970 else 2**63 - 1
    return min(max(ns, -(2**63)), 2**63 - 1)


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
                raise NoCatalog(f"{_shown(url)} holds no library (yet): run altclip-index")
            if version == SCHEMA_VERSION:
                return engine
            engine.dispose()  # another version: upgraded once by whoever opens it, or refused
        return _prepare(_engine(url))
    except SQLAlchemyError as e:
        raise CatalogError(f"cannot open the catalog {_shown(url)}: {_advice(e, url)}") from None


@contextmanager
def one_writer(url: str | None) -> Iterator[None]:
    """The only writer of the PostgreSQL catalog at `url`, whichever library folder it writes
    for: a session advisory lock, held on a connection of its own (the server drops it with the
    connection, so a killed indexer holds nothing). A SQLite catalog lives in its library folder,
    whose lock the indexer holds."""
    if not (url or "").startswith("postgresql"):
        yield
        return
    engine = create_engine(url)
    try:
        c = engine.connect()
        locked = c.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": WRITER_LOCK}).scalar()
    except SQLAlchemyError as e:
        engine.dispose()
        raise CatalogError(f"cannot open {_shown(url)}: {_advice(e, url)}") from None
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


def _advice(e: SQLAlchemyError, url: str) -> str:
    """The database's error in one line and what to do about it."""
    said = error_line(e)
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    where = url[len("sqlite:///") :] if dialect == "sqlite" else _shown(url)
    for words, advice in ADVICE[dialect]:
        if any(w in said.lower() for w in words):
            return f"{said}; {advice.format(where=where)}"
    return f"{said}; check the --catalog URL"


def _shown(url: str) -> str:
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
    for index in Photo.__table__.indexes:  # catalogs made before an index was added gain it
        index.create(engine, checkfirst=True)
    with Session(engine) as s, s.begin():
        if s.get(Meta, "schema_version") is None:
            s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            s.add(Meta(key="generation", value="0"))
        if s.get(Meta, "catalog_id") is None:
            s.add(Meta(key="catalog_id", value=uuid.uuid4().hex))
    return engine
