"""The statements about copy groups (the `copies` table, search/schema.py's `CopyOf`): written by
the indexer as photos come and go, read by searches to fold their hits by group in O(k).

A photo in a group of copies has a row naming its leader; a leader has none, nor has a photo that
stands alone. A row whose leader is the photo itself marks a photo to be placed again (its leader
went or changed): it stands alone until the indexer places it. Where the groups stand (the
thresholds they were found at and the catalog generation they reflect, `search.copies.State`) is
the Meta row `copies`, written in the same transaction as the rows it describes."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import delete, exists, func, insert, or_, select, update

from search.schema import OK, CopyOf, Meta, Photo

STATE = "copies"  # the Meta key of the groups' state
CHUNK = 5000  # ids per statement (within every database's limit on a statement's parameters)


class CatalogCopies:
    """The copy groups' statements; mixed into `Catalog`, whose `_session` it uses."""

    # -- what searchers read ----------------------------------------------------------------------

    def copies_state(self) -> dict | None:
        """The groups' state as the indexer last wrote it (a JSON object), or None where no
        groups were made yet."""
        with self._session() as s:
            row = s.get(Meta, STATE)
            return json.loads(row.value) if row is not None else None

    def leaders_of(self, ids: list[int]) -> dict[int, int]:
        """{photo: its group's leader} for those of `ids` that are in a group and not its
        leader: one statement for a page of hits."""
        found = {}
        with self._session() as s:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                query = select(CopyOf.id, CopyOf.leader).where(
                    CopyOf.id.in_(chunk), CopyOf.leader != CopyOf.id
                )
                found |= dict(s.execute(query).all())
        return found

    def copy_groups(self) -> dict[int, list[tuple[int, float]]]:
        """Every group: {leader: [(member, its cosine to the leader), ...]}, members by id."""
        groups: dict[int, list[tuple[int, float]]] = {}
        with self._session() as s:
            query = select(CopyOf.leader, CopyOf.id, CopyOf.score).where(CopyOf.leader != CopyOf.id)
            for leader, member, score in s.execute(query.order_by(CopyOf.leader, CopyOf.id)):
                groups.setdefault(leader, []).append((member, score))
        return groups

    # -- what the indexer reads and writes --------------------------------------------------------

    def groups_around(self, ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
        """Where `ids` stand: ({member: its leader} for those in a group and not leading it,
        {leader: its group's size, itself included} for those leading one)."""
        leader_of, size = {}, {}
        with self._session() as s:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                rows = select(CopyOf.id, CopyOf.leader).where(
                    CopyOf.id.in_(chunk), CopyOf.leader != CopyOf.id
                )
                leader_of |= dict(s.execute(rows).all())
                led = select(CopyOf.leader, func.count()).where(
                    CopyOf.leader.in_(chunk), CopyOf.leader != CopyOf.id
                )
                size |= {i: n + 1 for i, n in s.execute(led.group_by(CopyOf.leader)).all()}
        return leader_of, size

    def copies_pending(self, since: int, upto: int, after: int, every: bool) -> np.ndarray:
        """The photos (with a vector) a pass of the groups from generation `since` to `upto`
        places, ascending, those after `after` only: every photo (`every`: the groups made
        anew), else those changed in (since, upto] and those marked to be placed again."""
        with self._session() as s:
            if every:
                query = select(Photo.id).where(Photo.status == OK, Photo.id > after)
                found = list(s.scalars(query.where(Photo.generation <= upto)))
            else:
                changed = select(Photo.id).where(
                    Photo.generation > since, Photo.generation <= upto, Photo.id > after
                )
                found = list(s.scalars(changed.where(Photo.status == OK)))
            marked = select(CopyOf.id).where(CopyOf.leader == CopyOf.id, CopyOf.id > after)
            found += s.scalars(marked.where(_alive(CopyOf.id)))
        return np.unique(np.array(found, np.int64))

    def changed_after(self, generation: int) -> np.ndarray:
        """The photos changed after `generation` (a later pass places them)."""
        with self._session() as s:
            query = select(Photo.id).where(Photo.generation > generation)
            return np.array(sorted(s.scalars(query)), np.int64)

    def open_copies(self, state: dict, since: int, upto: int, anew: bool) -> None:
        """Begin a pass that brings the groups from generation `since` to `upto`, in one
        transaction with its `state`: `anew`, every row goes; else the rows of photos gone or
        changed meanwhile go, and the members of a leader gone or changed are marked to be
        placed again."""
        with self._session(write=True) as s:
            if anew:
                s.execute(delete(CopyOf))
            else:
                changed = select(Photo.id).where(Photo.generation > since, Photo.generation <= upto)
                went = or_(~_alive(CopyOf.leader), CopyOf.leader.in_(changed))
                s.execute(update(CopyOf).where(went).values(leader=CopyOf.id, generation=upto))
                s.execute(delete(CopyOf).where(or_(~_alive(CopyOf.id), CopyOf.id.in_(changed))))
            s.merge(Meta(key=STATE, value=json.dumps(state)))

    def write_copies(
        self, placed: list[int], rows: list[tuple[int, int, float]], generation: int, state: dict
    ) -> None:
        """One block of a pass, in one transaction with the `state` it leaves: the photos
        `placed` (and those `rows` name) lose their old rows, and `rows` (member, leader, cosine)
        are written, stamped with the `generation` the groups now reflect."""
        touched = sorted(set(placed) | {r[0] for r in rows})
        with self._session(write=True) as s:
            for start in range(0, len(touched), CHUNK):
                s.execute(delete(CopyOf).where(CopyOf.id.in_(touched[start : start + CHUNK])))
            if rows:
                values = [
                    dict(id=m, leader=leader, score=float(score), generation=generation)
                    for m, leader, score in rows
                ]
                s.execute(insert(CopyOf), values)
            s.merge(Meta(key=STATE, value=json.dumps(state)))


def _alive(column):
    """Whether the photo `column` names is there with a vector (a correlated EXISTS: a primary
    key look-up per row, in SQLite and PostgreSQL alike)."""
    return exists().where(Photo.id == column, Photo.status == OK)
