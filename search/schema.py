"""The catalog's schema: its tables, the rows as the code passes them, and the migrations that
take an older catalog to this version. What a sound row is (`damage`) lives here too: every
vector is checked where it is read."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

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
    false,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 4  # 3: copy groups and folder times; 4: words in photos (new tables only)
# Stepwise: MIGRATIONS[v] takes a catalog from version v - 1 to v, in the catalog's transaction.
# Tables and indexes new in a version are made by create_all; columns added to a table are here.
MIGRATIONS = {
    2: [
        "ALTER TABLE photos ADD COLUMN offline BOOLEAN NOT NULL DEFAULT false",
        "ALTER TABLE photos ADD COLUMN generation BIGINT NOT NULL DEFAULT 0",
    ]
}
OK, ERROR = "ok", "error"
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
        return value if utf8(value) else "hex:" + os.fsencode(value).hex()

    def process_result_value(self, value, dialect):
        if value is not None and value.startswith("hex:"):
            return os.fsdecode(bytes.fromhex(value[4:]))
        return value


def utf8(path: str) -> bool:
    """Whether a path is stored as written (else as `hex:` + its bytes, see FsPath)."""
    try:
        path.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


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


def bytewise(table: str) -> Index:
    """PostgreSQL's index of `table`'s paths as bytes (COLLATE "C"), which a plan's range reads
    use (catalog_writes.py): the unique index on path follows the database's collation, and a
    query in another one is a scan of every row. SQLite compares paths as bytes already."""
    return Index(f"ix_{table}_path_bytes", literal_column('path COLLATE "C"')).ddl_if(
        dialect="postgresql"
    )


class Photo(PhotoColumns, Base):
    __tablename__ = "photos"
    # Counts and the search filters read this index alone, never the rows' 3 KB embeddings:
    # 0.5 s instead of 3.8 s for a million photos.
    __table_args__ = (
        Index("ix_photos_facts", "status", "id", "path", "taken_at", "mtime_ns"),
        bytewise("photos"),
        {"sqlite_autoincrement": True},  # a removed photo's id is never given to another
    )


class PendingPhoto(PhotoColumns, Base):
    __tablename__ = "photos_rebuild"
    __table_args__ = (bytewise("photos_rebuild"),)


class Removal(Base):
    """A photo removed from the library, remembered so that an index made before knows."""

    __tablename__ = "removals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the photo's id
    generation: Mapped[int] = mapped_column(BigInteger, index=True)


class CopyOf(Base):
    """A photo that is a near-duplicate of another, its group's leader (search/copies.py). Found
    when photos are indexed, never per query; a photo with no row stands alone (or leads)."""

    __tablename__ = "copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the photo's id
    leader: Mapped[int] = mapped_column(Integer, index=True)  # the leader photo's id
    score: Mapped[float] = mapped_column(Float)  # the cosine of the two photos' vectors
    generation: Mapped[int] = mapped_column(BigInteger, index=True)


class Folder(Base):
    """A folder the indexer has scanned, with the modification time it had then: a rescan skips
    a folder whose time has not changed (its files' names are as they were)."""

    __tablename__ = "folders"

    path: Mapped[str] = mapped_column(FsPath, primary_key=True)  # absolute
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger, index=True)


class Reading(Base):
    """A photo whose words were read, for the bytes `sha256`: a photo with no row, or another
    sha256, is read by the next run. `cut`: why some of its words may be missing (None: none)."""

    __tablename__ = "readings"

    photo: Mapped[int] = mapped_column(Integer, primary_key=True)  # the photo's id
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # a copy's words are the same
    cut: Mapped[str | None] = mapped_column(Text)
    generation: Mapped[int] = mapped_column(BigInteger, index=True)


class WordLine(Base):
    """One line of words read in a photo: its text, the text folded for lookups (search/words.py)
    and its box, four corners [[x, y], ...] as fractions of the photo's width and height."""

    __tablename__ = "word_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    photo: Mapped[int] = mapped_column(Integer, index=True)
    text: Mapped[str] = mapped_column(Text)
    folded: Mapped[str] = mapped_column(Text)
    box: Mapped[str] = mapped_column(Text)  # JSON
    confidence: Mapped[float] = mapped_column(Float)


class WordGram(Base):
    """A character bigram of a photo's folded lines: the lookup's B-tree (two-character Chinese
    words are one bigram; an English word, its bigrams), in SQLite and PostgreSQL alike."""

    __tablename__ = "word_grams"

    gram: Mapped[str] = mapped_column(String(8), primary_key=True)
    photo: Mapped[int] = mapped_column(Integer, primary_key=True)


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


# -- the bookkeeping every statement shares ------------------------------------------------------


def photo_table(rebuild: bool):
    return PendingPhoto if rebuild else Photo


def current_generation(s: Session) -> int:
    return int(s.get(Meta, "generation").value)


def next_generation(s: Session) -> int:
    """The next generation, taken inside the transaction that makes it."""
    generation = current_generation(s) + 1
    s.execute(update(Meta).where(Meta.key == "generation").values(value=str(generation)))
    return generation


def model_dim(s: Session) -> int:
    return s.scalar(select(ModelInfo.dim)) or 0


def rebuild_model(s: Session) -> Model | None:
    row = s.get(Meta, "rebuild_model")
    return Model(**json.loads(row.value)) if row is not None else None


def sound(rows, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def in_chunks(items: list, n: int = 500) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def ids_in(ids: list[int], size: int = 5000):
    """`Photo.id IN (...)` conditions over `ids`, `size` at a time."""
    for start in range(0, len(ids), size):
        yield Photo.id.in_(ids[start : start + size])
