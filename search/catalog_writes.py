"""The statements only the indexer runs: it is the catalog's one writer (the library folder's
lock, and PostgreSQL's advisory lock, see to that). Each write is one transaction that takes the
next generation, so a searcher sees a batch whole or not at all, and learns what changed since
the generation its index reflects in one query."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator

from sqlalchemy import and_, delete, false, func, insert, not_, or_, select, text, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from search.database import CatalogError
from search.filters import under
from search.schema import (
    ERROR,
    OK,
    SHA256,
    Folder,
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
    in_chunks,
    model_dim,
    next_generation,
    photo_table,
    rebuild_model,
    sound,
    utf8,
)

CHUNK = 20_000  # rows per read when checking vectors: 60 MB of 768-d float32
ROWS = 5_000  # rows per read when a plan streams the rows under a folder (no vectors: ~1 MB)


class CatalogWrites:
    """What the indexer asks and writes (`rebuild`: the table a rebuild fills); mixed into
    `Catalog`, whose `_session` it uses."""

    def set_model(self, model: Model) -> None:
        """Record the model of a library that has none yet."""
        with self._session(write=True) as s:
            s.add(ModelInfo(name=model.name, fingerprint=model.fingerprint, dim=model.dim))
            next_generation(s)

    def known(self, rebuild: bool = False) -> dict[str, Known]:
        """Every row at once (an import's); a plan reads only the rows under its places."""
        table = photo_table(rebuild)
        columns = (table.path, table.size, table.mtime_ns, table.sha256, table.status)
        with self._session() as s:
            return {r[0]: Known(*r[1:]) for r in s.execute(select(*columns, table.offline))}

    # -- what a plan reads: the rows under the places it plans, a folder or a chunk at a time --
    # Paths are compared and sorted as bytes (SQLite's BINARY, PostgreSQL's "C"): the order
    # scan.scan walks in. Paths that are not UTF-8 are stored as `hex:` + their bytes
    # (schema.FsPath): rare, outside every folder's byte range, so read apart (`odd_rows_under`).

    def rows_under(self, place: str, rebuild: bool = False) -> Iterator[tuple[str, Known]]:
        """(path, Known) of the rows at `place` or under it with UTF-8 paths, in byte order,
        ROWS at a time, each read a short transaction of its own."""
        table = photo_table(rebuild)
        if utf8(place):
            where = self._within(table.path, [place], odd=False)
            for rows in self._by_path(table, _known_columns(table), where):
                yield from ((r[0], Known(*r[1:])) for r in rows)

    def odd_rows_under(self, place: str, rebuild: bool = False) -> dict[str, Known]:
        """The rows at or under `place` whose paths are not UTF-8, at once."""
        table = photo_table(rebuild)
        c = self._bytewise(table.path)
        where = and_(self._within(table.path, [place]), c >= "hex:", c < "hex;")
        with self._session() as s:
            rows = s.execute(select(*_known_columns(table)).where(where)).all()
        return {r[0]: Known(*r[1:]) for r in rows}

    def rows_in(self, folder: str, rebuild: bool = False) -> dict[str, Known]:
        """The rows of the files directly in `folder`, at once (a polling rescan's changed
        folder): its subfolders' rows are passed over inside the database."""
        table = photo_table(rebuild)
        direct = not_(func.substr(table.path, len(folder) + 2).contains("/"))
        where = and_(self._within(table.path, [folder], odd=False), direct)
        with self._session() as s:
            rows = s.execute(select(*_known_columns(table)).where(where)).all()
        found = {r[0]: Known(*r[1:]) for r in rows} | self.odd_rows_under(folder, rebuild)
        return {p: k for p, k in found.items() if os.path.dirname(p) == folder}

    def rows_at(self, paths: list[str], rebuild: bool = False) -> dict[str, Known]:
        """The rows of these files (those the catalog has)."""
        table, found = photo_table(rebuild), {}
        with self._session() as s:
            for chunk in in_chunks(paths):
                query = select(*_known_columns(table)).where(table.path.in_(chunk))
                found.update((r[0], Known(*r[1:])) for r in s.execute(query))
        return found

    def has_vector_for(self, sha256: str, rebuild: bool = False) -> bool:
        """Whether a photo with these bytes has a vector (to copy instead of embedding)."""
        table = photo_table(rebuild)
        query = select(table.id).where(table.sha256 == sha256, table.status == OK).limit(1)
        with self._session() as s:
            return s.scalar(query) is not None

    def contents(self, rebuild: bool = False) -> Iterator[str]:
        """The sha256 of every photo with a vector, ROWS at a time (the Ray runner's filter)."""
        for rows in self._by_path(t := photo_table(rebuild), (t.sha256,), t.status == OK):
            yield from (r[0] for r in rows)

    def paths_with(self, sha256: str) -> list[str]:
        """The photos in reach (not offline) whose file had these bytes."""
        query = select(Photo.path).where(Photo.sha256 == sha256, Photo.offline == false())
        with self._session() as s:
            return list(s.scalars(query))

    def copies_outside(self, places: list[str]) -> list[tuple[str, str]]:
        """(path outside `places`, path under them) of rows with the same bytes: where the
        outside file is gone, a move an earlier run stopped halfway. A join on sha256, for
        100 places at a time (a statement's depth is bounded)."""
        inner, outer, found = aliased(Photo), aliased(Photo), []
        for chunk in in_chunks(places, 100):
            query = select(outer.path, inner.path).join(inner, inner.sha256 == outer.sha256)
            query = query.where(self._within(inner.path, chunk), outer.path != inner.path)
            query = query.where(outer.sha256.is_not(None), outer.offline == false())
            with self._session() as s:
                found += [(o, i) for o, i in s.execute(query) if not under(o, places)]
        return found

    def outside(self, places: list[str], rebuild: bool = False) -> Iterator[list[str]]:
        """The library's paths outside `places` (a rebuild takes them in too), ROWS at a time;
        with `rebuild`, the paths outside that only the rebuild's table holds (gone since)."""
        table = PendingPhoto if rebuild else Photo
        where = not_(self._within(table.path, places))
        if rebuild:
            where = and_(where, ~select(Photo.id).where(Photo.path == table.path).exists())
        for rows in self._by_path(table, (table.path,), where):
            yield [r[0] for r in rows]

    # -- folder times: a polling rescan skips a folder whose time has not changed ------------

    def folder_times(self, place: str) -> Iterator[tuple[str, int]]:
        """(folder, mtime_ns) of the folders recorded at or under `place`, ROWS at a time."""
        columns = (Folder.path, Folder.mtime_ns)
        for rows in self._by_path(Folder, columns, self._within(Folder.path, [place])):
            yield from ((r[0], r[1]) for r in rows)

    def recorded(self, folders: list[str]) -> set[str]:
        """Which of `folders` have a recorded time."""
        found = set()
        with self._session() as s:
            for chunk in in_chunks(folders):
                found.update(s.scalars(select(Folder.path).where(Folder.path.in_(chunk))))
        return found

    def record_folders(self, trees: list[str], times: dict[str, int]) -> None:
        """After a run that finished, in one transaction: forget the times at or under `trees`
        (walked whole), then record `times` (folder: mtime_ns; -1: list it again next time)."""
        with self._session(write=True) as s:
            generation = current_generation(s)
            for tree in trees:
                s.execute(delete(Folder).where(self._within(Folder.path, [tree])))
            for chunk in in_chunks(sorted(times)):
                s.execute(delete(Folder).where(Folder.path.in_(chunk)))
                rows = [dict(path=p, mtime_ns=times[p], generation=generation) for p in chunk]
                s.execute(insert(Folder), rows)

    def _by_path(self, table, columns: tuple, where) -> Iterator[list]:
        """(path, *columns) of the rows of `table` that pass `where`, by path in byte order
        (non-UTF-8 paths last), ROWS at a time: a read holds no transaction open for long."""
        path, last = self._bytewise(table.path), None
        while True:
            query = select(table.path, *columns).where(
                where, true() if last is None else path > last
            )
            with self._session() as s:
                rows = s.execute(query.order_by(path).limit(ROWS)).all()
            if rows:
                yield [r[1:] for r in rows]
            if len(rows) < ROWS:
                return
            last = rows[-1][0]

    def _bytewise(self, column):
        """`column` compared and sorted as bytes, whatever the database's collation."""
        return column.collate("C") if self.engine.dialect.name == "postgresql" else column

    def _within(self, column, places: list[str], odd: bool = True):
        """`column` (a path) is one of `places` or under one. A non-UTF-8 place binds as hex
        (FsPath), and so its range is the hex one; `odd`: also the non-UTF-8 paths under a
        UTF-8 place (its hex range)."""
        c, terms = self._bytewise(column), []
        for p in places:
            terms.append(or_(c == p, and_(c >= p + "/", c < p + "0")))
            if odd and utf8(p):
                stored = "hex:" + os.fsencode(p).hex()
                terms.append(and_(c >= stored + "2f", c < stored + "30"))  # "/" and "0"
        return or_(false(), *terms)

    def copy_of(self, sha256: str, rebuild: bool = False) -> Record | None:
        """A photo with these bytes and a vector, to copy instead of embedding again."""
        table = photo_table(rebuild)
        with self._session() as s:
            query = select(table).where(table.sha256 == sha256, table.status == OK)
            dim = rebuild_model(s).dim if rebuild else model_dim(s)
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
        table = photo_table(rebuild)
        with self._session(write=True) as s:
            generation = next_generation(s)
            rows = {}
            for chunk in in_chunks([r.path for r in records]):
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
        table = photo_table(rebuild)
        with self._session(write=True) as s:
            generation = next_generation(s)
            for chunk in in_chunks(gone):
                ids = s.scalars(select(table.id).where(table.path.in_(chunk))).all()
                s.execute(delete(table).where(table.id.in_(ids)))
                if not rebuild and ids:  # an id SQLite gave again may have been removed before
                    s.execute(delete(Removal).where(Removal.id.in_(ids)))
                    s.execute(insert(Removal), [dict(id=i, generation=generation) for i in ids])
            for state in (True, False):
                for chunk in in_chunks([p for p, v in offline.items() if v == state]):
                    s.execute(update(table).where(table.path.in_(chunk)).values(offline=state))
            if rebuild:
                self._switch(s, generation)

    def pending_model(self) -> Model | None:
        """The model a rebuild in progress embeds with, or None."""
        with self._session() as s:
            return rebuild_model(s)

    def start_rebuild(self, model: Model) -> None:
        """Begin (or resume, with the same model) filling `photos_rebuild`; the library is
        unchanged."""
        with self._session(write=True) as s:
            pending = rebuild_model(s)
            if pending is not None and pending.fingerprint == model.fingerprint:
                return
            s.execute(delete(PendingPhoto))
            s.merge(Meta(key="rebuild_model", value=json.dumps(model.__dict__)))

    def _switch(self, s: Session, generation: int) -> None:
        """The rebuilt library replaces the old one inside the caller's transaction: a searcher
        sees the old photos and model or the new ones, never a mix."""
        model = rebuild_model(s)
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

    def forget_removals(self, up_to: int) -> None:
        """Removals an index of generation `up_to` already reflects need not be remembered."""
        with self._session(write=True) as s:
            s.execute(delete(Removal).where(Removal.generation <= up_to))

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

    def integrity(self) -> list[str]:
        """What the database finds wrong with its own file (SQLite's integrity check: pages,
        indexes), an empty list where nothing is."""
        if self.engine.dialect.name != "sqlite":
            return []  # PostgreSQL checks its pages itself
        with self._session() as s:
            found = s.execute(text("PRAGMA integrity_check(20)")).scalars().all()
        return [] if found == ["ok"] else found

    def damaged(self, pictured: Callable[[str], bool] | None = None) -> list[tuple[str, str]]:
        """(path, what is wrong) of every photo whose row cannot be trusted: its vector is
        damaged (`damage`) or its content hash is not one; with `pictured` (whether the
        pictures of a sha256 are there: library_folder.has_pictures), a photo without its thumbnail
        or preview. The indexer makes them again."""
        found = []
        with self._session() as s:
            dim, last = model_dim(s), -1
            while True:
                query = select(Photo.id, Photo.path, Photo.sha256, Photo.embedding)
                query = query.where(Photo.status == OK, Photo.id > last)
                rows = s.execute(query.order_by(Photo.id).limit(CHUNK)).all()
                if not rows:
                    return found
                last = rows[-1][0]
                bad = set(sound([(r[0], r[3]) for r in rows], dim)[2].tolist())
                for i, path, sha, embedding in rows:
                    if i in bad:
                        found.append((path, damage(embedding, dim)))
                    elif not SHA256.fullmatch(sha or ""):
                        found.append((path, "a content hash that is not one"))
                    elif pictured is not None and not pictured(sha):
                        found.append((path, "its thumbnail or preview is missing or empty"))


def _known_columns(table) -> tuple:
    return (table.path, table.size, table.mtime_ns, table.sha256, table.status, table.offline)
