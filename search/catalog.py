"""The catalog: the library's source of truth, in any SQLAlchemy database (SQLite by default).

One row per photo file (path, size, mtime, content hash, dimensions, capture time, status and the
float32 embedding), one row naming the model that made the vectors, and a `generation` counter that
grows with every committed change. Each row records the generation it last changed in, and removed
photos are remembered, so that an index made at generation G learns what changed since in one
query. `Catalog` holds every SQL statement of the project.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import case, func, or_, select, type_coerce
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from search.catalog_copies import CatalogCopies
from search.catalog_words import CatalogWords
from search.catalog_writes import CatalogWrites
from search.database import CatalogError, NoCatalog, advice, catalog_url, connect, shown
from search.filters import has_text, in_folder, taken, under
from search.library_folder import has_catalog, no_library
from search.schema import (
    ERROR,
    OK,
    SHA256,
    Changes,
    FsPath,
    Known,
    Meta,
    Model,
    ModelInfo,
    PendingPhoto,
    Photo,
    Record,
    Removal,
    current_generation,
    damage,
    ids_in,
    model_dim,
    sound,
)

# The catalog's API: `Catalog`, the rows it takes and gives, and its errors.
__all__ = [
    "ERROR",
    "OK",
    "SHA256",
    "Catalog",
    "CatalogError",
    "Changes",
    "Known",
    "Model",
    "NoCatalog",
    "PendingPhoto",
    "Photo",
    "Record",
    "catalog_url",
    "connect",
    "damage",
    "under",
]

CHUNK = 20_000  # rows per read when streaming vectors: 60 MB of 768-d float32


class Catalog(CatalogWrites, CatalogCopies, CatalogWords):
    """Every statement the project runs against its database, by name."""

    def __init__(self, engine: Engine, url: str | None = None):
        self.engine, self.url = engine, url or engine.url.render_as_string()

    @classmethod
    def open(cls, library: Path, url: str | None = None, create: bool = True) -> Catalog:
        """The catalog of `library` (or at `url`). Without `create` (searchers, reports), a
        library folder that holds no catalog is a CatalogError rather than a new empty catalog,
        and nothing is written."""
        if not create and url is None and not has_catalog(library):
            raise NoCatalog(no_library(Path(library)))
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
                f"the catalog {shown(self.url)} failed: {advice(e, self.url)}"
            ) from None

    # -- the library as a whole --------------------------------------------------------------------

    def generation(self) -> int:
        with self._session() as s:
            return current_generation(s)

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
            dim, last = model_dim(s), -1
            while True:
                query = select(Photo.id, Photo.embedding).where(Photo.status == OK, Photo.id > last)
                rows = s.execute(query.order_by(Photo.id).limit(chunk)).all()
                if not rows:
                    return
                last = rows[-1][0]
                yield sound(rows, dim)[:2]

    def changes_since(self, generation: int, dim: int) -> Changes:
        """What changed after `generation`. The generation is read first: a change committed
        meanwhile may show here and again next time, which is harmless."""
        with self._session() as s:
            now = current_generation(s)
            query = select(Photo.id, Photo.status, Photo.embedding)
            rows = s.execute(query.where(Photo.generation > generation)).all()
            gone = s.scalars(select(Removal.id).where(Removal.generation > generation)).all()
        ids, vectors, _ = sound([(i, e) for i, status, e in rows if status == OK], dim)
        dead = np.array([r[0] for r in rows] + list(gone), np.int64)
        return Changes(now, ids, vectors, dead)

    # -- what searchers read ----------------------------------------------------------------------

    def passing(
        self,
        folder: str | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        kinds: list[str] | None = None,
        with_text: bool = False,
    ) -> np.ndarray:
        """Ids of the photos with a vector that pass the filters. `folder`: a folder name or part
        of one anywhere in the path (`旅行` finds …/旅行 2023/…), or an absolute path (that
        subtree); `after`/`before`: the capture date, else the file's time; `kinds`: extensions;
        `with_text`: only photos with words read in them (not their name alone)."""
        where = [Photo.status == OK]
        if with_text:
            where.append(has_text())
        if folder:
            where.append(in_folder(folder))
        if after is not None:
            where.append(taken(after, "after"))
        if before is not None:
            where.append(taken(before, "before"))
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
            for chunk in ids_in(ids):
                found |= {p.id: p for p in s.scalars(select(Photo).where(chunk))}
        return found

    def hashes(self, ids: list[int]) -> dict[int, str]:
        """{id: sha256} of the photos `ids`, read as `photos` reads them."""
        found = {}
        with self._session() as s:
            for chunk in ids_in(ids):
                found |= dict(s.execute(select(Photo.id, Photo.sha256).where(chunk)).all())
        return found

    def vector_of(self, photo: int | str) -> np.ndarray | None:
        """The stored vector of a photo, by id or path; None if it has none."""
        key = Photo.id == photo if isinstance(photo, int) else Photo.path == photo
        with self._session() as s:
            stored = s.scalar(select(Photo.embedding).where(key, Photo.status == OK))
            if stored is None or damage(stored, model_dim(s)):
                return None
        return np.frombuffer(stored, np.float32).copy()

    def ids_of(self, sha256: str) -> list[int]:
        """The photos with a vector whose file has these bytes."""
        with self._session() as s:
            query = select(Photo.id).where(Photo.sha256 == sha256, Photo.status == OK)
            return list(s.scalars(query))

    def folders(self) -> list[str]:
        """The folders that directly hold photos with a vector, sorted (read from the index on
        (status, id, path, …), not the rows). Each path is cut after its last "/" inside the
        database (rtrim of its other characters), which sends each folder once: 0.06 s at
        100 000 photos, where a loop in Python over every path took 0.15 s of the interpreter
        lock the page's first run needs. A name stored as hex (not UTF-8) is cut here."""
        cut = func.rtrim(Photo.path, func.replace(Photo.path, "/", ""))
        folder = type_coerce(case((Photo.path.startswith("hex:"), Photo.path), else_=cut), FsPath)
        with self._session() as s:
            found = s.scalars(select(folder).where(Photo.status == OK).distinct())
            return sorted({os.path.dirname(f) for f in found})

    def path_of(self, photo_id: int) -> str | None:
        with self._session() as s:
            return s.scalar(select(Photo.path).where(Photo.id == photo_id, Photo.status == OK))
