"""Which are copies? A library's groups of near-duplicates (bursts, re-encodes, resized or cropped
copies), found when its photos are indexed and stored in the catalog (search/catalog_copies.py),
never per query: a search folds its hits by stored group in O(k) (`Copies.search`), and
`Copies.groups` lists them. `search.duplicates` says how two photos are found to be copies and
where that fails.

How the indexer keeps them (`regroup`, at the end of every run that wrote, before the catalog is
made durable; only the indexer, the catalog's one writer, calls it):
- The thresholds (`thresholds`: `duplicates.threshold_for` and `candidate_for` on the library's
  typical pair) are measured when a library's groups are first made, and stored with them
  (`State`): later runs group by the same ones. They are measured again, and every group made
  anew, only where none are stored, the library was rebuilt (another model, new ids), or they
  were measured on fewer photos than a typical pair needs (`duplicates.SAMPLE_ROWS`) and the
  library has grown since. A library indexed before groups existed gets them so, nothing
  re-embedded.
- A pass brings the groups from the generation they reflect to the catalog's: its first
  transaction drops the rows of photos gone or changed and marks the members of a leader gone
  or changed to be placed again; then the photos changed meanwhile, and those marked, are placed
  by id, BLOCK at a time (`duplicates.place`: candidates the vector index's nearest, confirmed
  by the thumbnails' pixels), each block one transaction with the state it leaves. A kill
  loses the block in flight; the next run finishes the pass where it stopped, so it ends as an
  uninterrupted one would.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from search import duplicates as near
from search.arguments import number
from search.catalog import OK, Catalog, damage
from search.hits import Hit, SearchError, hits_from
from search.relevance import Background
from search.vector_index import VectorIndex

GROUP_POOL = 2  # results searched per hit asked for, when near-duplicates are grouped
LOOKS_KEPT = 2048  # thumbnails' looks remembered for near-duplicate checks, 10 KB each
BLOCK = 2048  # photos placed per transaction
Thumbnail = Callable[[str | None], Path | None]  # a photo's sha256 -> its thumbnail file, or None


def thresholds(background: Background) -> tuple[float, float]:
    """The cosine at which two photos are copies by their vectors alone, and the cosine from
    which their thumbnails' pixels are compared (`near.threshold_for`, `near.candidate_for` on
    the library's relevance background: milliseconds)."""
    return near.threshold_for(background.vectors), near.candidate_for(background.vectors)


def fold(hits: list[Hit], leader_of: Mapping[int, int]) -> list[Hit]:
    """`hits` (best first) folded by group (`leader_of`: photo -> its group's leader, for those
    in a group and not leading it): each group as its best-ranked hit, the others in its
    `duplicates`, in rank order; a hit in no group stands alone."""
    heads: dict[int, list[Hit]] = {}
    for hit in hits:
        heads.setdefault(leader_of.get(hit.id, hit.id), []).append(hit)
    return [replace(first, duplicates=tuple(rest)) for first, *rest in heads.values()]


class Copies:
    """A library's near-duplicates as its catalog stores them: per search (`search`) and over
    the library (`groups`, kept while the catalog and its groups stay as they are).
    `thumbnail(sha256)` gives a photo's thumbnail file, or None (for `groups(threshold)`).
    `pool`: results searched per group asked for, at first (`GROUP_POOL`)."""

    def __init__(self, catalog: Catalog, thumbnail: Thumbnail):
        self.catalog, self.thumbnail = catalog, thumbnail
        self.pool = GROUP_POOL
        self._look_at = functools.lru_cache(LOOKS_KEPT)(read_look)
        self._groups: tuple[object, list[Hit]] | None = None  # groups(), per catalog state

    def search(self, k: int, ranked: Callable[[int], list[Hit]]) -> list[Hit]:
        """Up to `k` groups of the best results, folded by stored group from the `pool` x `k`
        best (`ranked(n)`: the n best hits), more read while fewer than `k` groups come of them
        and there are more photos."""
        n = k * self.pool
        while True:
            hits = ranked(n)
            found = fold(hits, self.catalog.leaders_of([h.id for h in hits]))
            if len(found) >= k or len(hits) < n:
                return found[:k]
            n *= 2

    def groups(self, threshold: float | None = None) -> list[Hit]:
        """The library's groups of near-duplicates, largest first, each as its best photo (the
        most pixels, then the largest file), the others in its `duplicates`, every score the
        cosine to that best photo; photos without one are left out. As stored (no pass over
        the library), or with `threshold` (a cosine: copies by their vectors alone from there)
        found anew over every pair, O(photos²)."""
        if threshold is not None and not (number(threshold) and 0 < threshold <= 1):
            raise SearchError(f"threshold is a cosine above 0 and at most 1, not {threshold!r:.40}")
        state = self.catalog.copies_state()
        key = self.catalog.generation(), json.dumps(state), threshold
        if self._groups is not None and self._groups[0] == key:
            return self._groups[1]
        if threshold is None:
            stored = self.catalog.copy_groups()
            members_of = [[leader] + [m for m, _ in rows] for leader, rows in stored.items()]
        else:
            members_of = self._anew(threshold, (state or {}).get("candidate", threshold))
        members_of.sort(key=lambda g: (-len(g), g[0]))
        found = self._best_first(members_of)
        self._groups = key, found
        return found

    def _anew(self, threshold: float, candidate: float) -> list[list[int]]:
        """`near.groups` over every photo of the library, its thumbnails' pixels compared from
        `candidate` (at most `threshold`)."""
        parts = list(self.catalog.vectors())
        ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        vectors = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, 0), np.float32)
        hashes = self.catalog.hashes(ids.tolist())

        def looks(row: int) -> np.ndarray | None:
            return self.look(hashes.get(int(ids[row])))

        candidate = min(candidate, threshold)
        return near.groups(ids, vectors, threshold, looks=looks, candidate=candidate)

    def _best_first(self, members_of: list[list[int]]) -> list[Hit]:
        """Each group (ids) as Hits, its best photo first, scored by the cosine to it."""
        flat = [i for members in members_of for i in members]
        rows, dim = self.catalog.photos(flat), self.catalog.model().dim
        sound = {i for i, r in rows.items() if r.status == OK and not damage(r.embedding, dim)}
        hits = hits_from(self.catalog, np.array(flat, np.int64), np.zeros(len(flat)))
        known = {h.id: h for h in hits if h.id in sound}
        found = []
        for members in members_of:
            hits = [known[i] for i in members if i in known]  # one gone meanwhile: left out
            if len(hits) < 2:
                continue
            best = max(hits, key=lambda h: ((h.width or 0) * (h.height or 0), h.size or 0, -h.id))
            hits = [best] + [h for h in hits if h is not best]
            scores = np.stack([rows[h.id].vector for h in hits]) @ rows[best.id].vector
            first, *rest = (replace(h, score=float(s)) for h, s in zip(hits, scores, strict=True))
            found.append(replace(first, duplicates=tuple(rest)))
        return found

    def look(self, sha256: str | None) -> np.ndarray | None:
        """`near.look` of a photo's thumbnail, or None without one."""
        path = self.thumbnail(sha256)
        return None if path is None else self._look_at(str(path))


# -- kept by the indexer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """Where a library's groups stand (the catalog's Meta `copies`, written with them)."""

    threshold: float  # the cosine of copies by their vectors alone
    candidate: float  # the cosine from which their pixels are compared
    sample: int  # the photos the thresholds were measured on
    model: str  # the fingerprint of the model whose vectors they were measured on
    floor: int  # the catalog's floor then (a rebuild gives every photo a new id)
    generation: int = -1  # the catalog generation the groups reflect
    to: int | None = None  # a pass under way: the generation it brings them to
    done: int = -1  # its last photo placed
    every: bool = False  # it places every photo (the groups made anew)


def regroup(
    catalog: Catalog,
    index: Callable[[], VectorIndex],
    thumbnail: Thumbnail,
    block: int | None = None,
):
    """Bring the stored groups up to the catalog: finish a pass a kill interrupted, then place
    the photos changed since (the module's docstring says how), `block` photos (default BLOCK)
    per transaction, their candidates from the vector index of the catalog as it is now
    (`index()`, asked only where photos are to be placed). Writes only where the catalog
    changed."""
    model = catalog.model()
    while model is not None:
        stored = catalog.copies_state()
        state = State(**stored) if stored else None
        floor, now = catalog.floor(), catalog.generation()
        sample = min(catalog.vector_count(), near.SAMPLE_ROWS)
        if state is not None and state.to is not None:
            pass  # a pass a kill interrupted: finished first
        elif (
            state is None
            or (state.model, state.floor) != (model.fingerprint, floor)
            or (state.sample < sample and state.generation < now)
        ):
            threshold, candidate = thresholds(Background.fit(_parts(index())))
            fingerprint = model.fingerprint
            state = State(threshold, candidate, sample, fingerprint, floor, to=now, every=True)
            catalog.open_copies(asdict(state), since=-1, upto=now, anew=True)
        elif state.generation < now:
            state = replace(state, to=now, done=-1, every=False)
            catalog.open_copies(asdict(state), since=state.generation, upto=now, anew=False)
        else:
            return
        _pass(catalog, index, state, thumbnail, block or BLOCK)


def _pass(
    catalog: Catalog,
    index: Callable[[], VectorIndex],
    state: State,
    thumbnail: Thumbnail,
    block: int,
) -> None:
    """Place the photos of the pass `state` describes, `block` at a time, each block in one
    transaction with the state it leaves; the last closes the pass."""
    pending = catalog.copies_pending(state.generation, state.to, state.done, state.every)
    if len(pending):
        pending = pending[_held(index(), pending)]
    later = catalog.changed_after(state.to)  # placed by the next pass
    hashes: dict[int, str] = {}
    looks = functools.lru_cache(LOOKS_KEPT)(read_look)
    thumbnail = functools.lru_cache(LOOKS_KEPT)(thumbnail)  # a stat per pair, else
    is_copy = near.Judge(lambda i: _look(looks, thumbnail, hashes.get(i)), state.threshold)
    for start in range(0, max(len(pending), 1), block):
        ids = pending[start : start + block]
        rows = []
        if len(ids):
            waiting = np.concatenate([pending[start + block :], later])
            found = _near(index(), ids, state.candidate, catalog, hashes, is_copy)
            others = sorted({j for row in found.values() for j, _ in row} - set(ids.tolist()))
            leader_of, size = catalog.groups_around(others)
            waiting = {int(i) for i in np.intersect1d(others, waiting)}
            alone = [j for j in others if j not in leader_of and j not in size and j not in waiting]
            alone = np.array(alone, np.int64)
            found |= _near(index(), alone, state.candidate, catalog, hashes, is_copy)
            rows = near.place(ids.tolist(), found, leader_of, size, waiting)
        if start + block >= len(pending):  # the last block closes the pass
            after = replace(state, generation=state.to, to=None, done=-1, every=False)
        else:
            after = replace(state, done=int(ids[-1]))
        catalog.write_copies(ids.tolist(), rows, state.to, asdict(after))
        hashes.clear()
        is_copy.forget_pairs()


def _near(index, ids, candidate, catalog, hashes, is_copy) -> dict[int, list[tuple[int, float]]]:
    """The confirmed near-duplicates (id, cosine), best first, of the photos `ids`: their
    nearest in the index from `candidate`, each pair judged by `is_copy`."""
    if not len(ids):
        return {}
    scores, found = _nearest(index, index.vectors_of(ids), ids, candidate)
    wanted = set(ids.tolist()) | set(found[found >= 0].tolist())
    hashes |= catalog.hashes(sorted(wanted - set(hashes)))
    return {
        i: [(j, c) for j, c in zip(row, s, strict=True) if is_copy(i, j, c)]
        for i, row, s in zip(ids.tolist(), found.tolist(), scores.tolist(), strict=True)
    }


def _nearest(index: VectorIndex, vectors: np.ndarray, ids: np.ndarray, candidate: float):
    """(scores, ids) [len(ids), MAX_GROUP - 1] of the photos' nearest others from `candidate`:
    every vector scanned, or on a large (approximate) index, asked of it photo by photo."""
    k = near.MAX_GROUP - 1
    if index.exact:
        return near.nearest(vectors, ids, _parts_with_ids(index), candidate, k)
    scores, found = index.search(vectors, k + 1)
    keep = (found != ids[:, None]) & (scores >= candidate) & (found >= 0)
    out_s, out_j = np.full((len(ids), k), -np.inf, np.float32), np.full((len(ids), k), -1)
    for row, mask in enumerate(keep):
        n = min(int(mask.sum()), k)
        out_s[row, :n], out_j[row, :n] = scores[row][mask][:n], found[row][mask][:n]
    return out_s, out_j


def _parts(index: VectorIndex) -> list[np.ndarray]:
    """The index's vectors as the relevance background samples them (search.matching)."""
    return ([index.base.vectors] if index.base is not None else []) + [index.delta]


def _parts_with_ids(index: VectorIndex) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of every photo the index finds: its base's live rows, then its delta."""
    base = index.base
    if base is not None:
        for start in range(0, len(base), near.BLOCK * 8):
            rows = slice(start, start + near.BLOCK * 8)
            alive = index.alive[rows]
            yield base.ids[rows][alive], np.asarray(base.vectors[rows])[alive]
    yield index.delta_ids, index.delta


def _held(index: VectorIndex, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` the index finds (a damaged vector is in none)."""
    held = np.isin(ids, index.delta_ids)
    if index.base is not None and len(index.base):
        at = np.searchsorted(index.base.ids, ids) % len(index.base)
        held |= (index.base.ids[at] == ids) & index.alive[at]
    return held


def _look(looks: Callable[[str], np.ndarray | None], thumbnail: Thumbnail, sha256: str | None):
    path = thumbnail(sha256)
    return None if path is None else looks(str(path))


def read_look(path: str) -> np.ndarray | None:
    """`near.look` of a thumbnail file (named by its photo's sha256, so never stale), read-only,
    or None where it cannot be read."""
    try:
        with Image.open(path) as picture:
            found = near.look(picture)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    found.setflags(write=False)
    return found
