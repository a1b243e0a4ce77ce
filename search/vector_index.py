"""The vector index: derived from the catalog, written by the indexer only, read by searchers.

A published base lives in the library's `index/` folder, its files named by the catalog generation
G they reflect, and checked on load (a damaged or foreign base is never used; its CRC-32s once per
boot, `intact`):

    G.ids    int64 [N]          photo ids, ascending
    G.f32    float32 [N, dim]   their vectors, memory-mapped: exact scores, never all in RAM
    G.pq     FAISS 4-bit product quantisation "fast scan" over the same rows (large libraries)
    G.json   the manifest, written last: catalog id, stamp, generation, count, dim, k_factor,
             the largest photo id, CRC-32s

A searcher loads the newest base and applies the catalog's changes since G in memory: new and
changed photos are scored exactly from a small delta, changed and removed ones are masked out of
the base. So adding or removing N photos costs O(N) until the delta passes REBUILD_FRACTION of
the base, when the indexer builds a new one (search/publishing.py).

Large bases are searched approximately: the best `k * k_factor` rows by PQ code are re-scored
exactly from the float32 vectors, so scores stay exact cosines and only recall is approximate.
`k_factor` is tuned at build on the library's own vectors. On 1 000 000 random 768-d vectors this
answers in ~9 ms at recall@10 >= 0.99, where brute force takes ~145 ms (bench/search.py).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from altclip_core import cache
from search.catalog import Catalog, Changes

ROWS = 20_000  # rows scored or read at a time
CANDIDATES = 4_000_000  # PQ candidates asked of FAISS at once (48 MB), over a batch of queries


@dataclass
class Published:
    """A published index: photo ids, their vectors (memory-mapped) and, when large, PQ codes."""

    generation: int
    ids: np.ndarray
    vectors: np.ndarray
    pq: faiss.Index | None
    k_factor: int

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def load(cls, folder: Path, catalog: Catalog) -> Published | None:
        """The newest base in `folder` that belongs to `catalog` as it is now, and whose files
        check out; None when there is none. A base belongs where its manifest names the
        catalog's identity and the stamp the catalog recorded when it was published (a catalog
        restored from a backup, copied or rewound has another), at a generation between the
        catalog's floor and its present, and the model's dimension."""
        model, now = catalog.model(), catalog.generation()
        bound = dict(
            catalog=catalog.identity(),
            stamp=catalog.index_stamp(),
            dim=model.dim if model else 0,
        )
        floor = catalog.floor()
        for generation in sorted(published(folder), reverse=True):
            if generation < floor:
                return None
            try:
                manifest = json.loads((folder / f"{generation}.json").read_text())
                if generation > now or any(manifest.get(k) != v for k, v in bound.items()):
                    continue  # another catalog's, or another past's: never trusted
                return cls._open(folder, generation, manifest)
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):
                continue  # damaged, or deleted by the indexer meanwhile: an older one
        return None

    @classmethod
    def _open(cls, folder: Path, generation: int, m: dict) -> Published:
        n, dim = m["count"], m["dim"]
        if m["generation"] != generation:
            raise ValueError("the manifest names another generation")
        files = {kind: folder / f"{generation}.{kind}" for kind in m["crc32"]}
        for kind, path in files.items():
            if not intact(path, m["crc32"][kind]):
                raise ValueError(f"{path} is damaged")
        ids = np.fromfile(files["ids"], np.int64)
        vectors = (
            np.memmap(files["f32"], np.float32, "r", shape=(n, dim))
            if n
            else np.empty((0, dim), np.float32)
        )
        if len(ids) != n or vectors.shape != (n, dim):
            raise ValueError("count does not match")
        pq = faiss.read_index(str(files["pq"])) if "pq" in files else None
        return cls(generation, ids, vectors, pq, m["k_factor"])

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the base holding these photo ids (those it holds)."""
        pos = np.searchsorted(self.ids, ids)
        inside = pos < len(self.ids)
        pos, ids = pos[inside], ids[inside]
        return pos[self.ids[pos] == ids]


class VectorIndex:
    """What a searcher searches: the newest base, and the catalog's changes since, in memory.
    Never changed once made (`updated` makes another), so threads may search one freely."""

    def __init__(
        self,
        base: Published | None,
        changes: Changes,
        dim: int,
        floor: int = 0,
        newest: int = -1,
        stamp: str | None = None,
    ):
        self.base, self.dim = base, dim
        self.floor, self.newest = floor, newest  # the catalog's floor, the newest base, at open
        self.stamp = stamp  # the catalog's index stamp at open
        self.alive = np.ones(len(base) if base else 0, bool)  # base rows not changed since
        self.delta_ids = np.empty(0, np.int64)  # photos new or changed since the base
        self.delta = np.empty((0, dim), np.float32)  # their vectors
        self._apply(changes)

    @classmethod
    def open(cls, folder: Path, catalog: Catalog) -> VectorIndex:
        """The index of the catalog as it is now. Reads only: a searcher never writes."""
        model, floor, newest = catalog.model(), catalog.floor(), max(published(folder), default=-1)
        dim, stamp = model.dim if model else 0, catalog.index_stamp()
        base = Published.load(folder, catalog)
        changes = catalog.changes_since(base.generation if base else -1, dim)
        return cls(base, changes, dim, floor, newest, stamp)

    def updated(self, catalog: Catalog) -> VectorIndex:
        """A copy caught up with the catalog: O(what changed since this one)."""
        index = copy.copy(self)
        index._apply(catalog.changes_since(self.generation, self.dim))
        return index

    def _apply(self, changes: Changes) -> None:
        """Take in `changes`, replacing arrays rather than writing into them."""
        if len(changes.dead):  # a changed photo is dead here, and among the new ids below
            if self.base is not None:
                self.alive = self.alive.copy()
                self.alive[self.base.positions(np.unique(changes.dead))] = False
            keep = ~np.isin(self.delta_ids, changes.dead)
            self.delta_ids, self.delta = self.delta_ids[keep], self.delta[keep]
        if len(changes.ids):
            self.delta_ids = np.concatenate([self.delta_ids, changes.ids])
            self.delta = np.concatenate([self.delta, changes.vectors])
        self.generation = changes.generation

    @property
    def exact(self) -> bool:
        return self.base is None or self.base.pq is None

    def __len__(self) -> int:
        return int(self.alive.sum()) + len(self.delta_ids)

    def photo_ids(self) -> set[int]:
        """Every photo the index finds."""
        base = self.base.ids[self.alive].tolist() if self.base else []
        return set(base) | set(self.delta_ids.tolist())

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """[len(ids), dim] the vectors of these photos; KeyError for one the index does not find."""
        ids = np.asarray(ids, np.int64)
        out = np.empty((len(ids), self.dim), np.float32)
        found = np.zeros(len(ids), bool)
        if len(self.delta_ids):
            order = np.argsort(self.delta_ids)
            at = order[np.searchsorted(self.delta_ids, ids, sorter=order) % len(order)]
            found = self.delta_ids[at] == ids
            out[found] = self.delta[at[found]]
        if self.base is not None and len(self.base):
            at = np.searchsorted(self.base.ids, ids) % len(self.base)
            alive = ~found & (self.base.ids[at] == ids) & self.alive[at]
            out[alive] = self.base.vectors[at[alive]]
            found |= alive
        if not found.all():
            raise KeyError(f"photos {sorted(ids[~found].tolist())[:5]} are not in the index")
        return out

    def search(
        self, queries: np.ndarray, k: int, exact: bool = False, among: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores [Q, k], ids [Q, k]) best first; missing neighbours have id -1. `exact` scans
        every vector even where the index is approximate (to check recall); `among` (photo ids)
        searches those photos only, exactly."""
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        k = max(1, min(k, len(self)))
        base, step, found = self.base, max(1, len(queries)), []
        pq = None if base is None or not len(base) or exact or among is not None else base.pq
        if pq is not None:
            # The PQ codes' candidates of many queries at once (FAISS runs a batch in threads),
            # as many as CANDIDATES allows: k_factor may be large (1 024 for random 16-d vectors).
            wanted = min(len(base), k * base.k_factor + int((~self.alive).sum()))
            step = max(1, CANDIDATES // wanted)
        for start in range(0, len(queries), step):
            batch = queries[start : start + step]
            near = pq.search(batch, wanted)[1] if pq is not None else [None] * len(batch)
            found += [self._one(q, k, exact, among, n) for q, n in zip(batch, near, strict=True)]
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, (s, i) in enumerate(found):
            scores[row, : len(s)], ids[row, : len(i)] = s, i
        return scores, ids

    def _one(self, q: np.ndarray, k: int, exact: bool, among: np.ndarray | None, near=None):
        """The k best for one query; `near`: the base rows its PQ codes chose (approximate)."""
        keep = slice(None) if among is None else np.isin(self.delta_ids, among)
        scores, ids = [self.delta[keep] @ q], [self.delta_ids[keep]]
        base = self.base
        if base is not None and len(base):
            if among is not None:
                pos = base.positions(np.unique(np.asarray(among, np.int64)))
            elif near is not None:
                pos = np.sort(near[near >= 0])  # in file order: fewer pages to read
            else:
                pos = np.arange(len(base))
            pos = pos[self.alive[pos]]
            # A chunk at a time: a broad filter must not copy every vector at once.
            chunks = [base.vectors[pos[i : i + ROWS]] @ q for i in range(0, len(pos), ROWS)]
            s = np.concatenate(chunks) if chunks else np.empty(0, np.float32)
            top = best_positions(s, k)
            scores.append(s[top])
            ids.append(base.ids[pos[top]])
        s, i = np.concatenate(scores), np.concatenate(ids)
        top = best_positions(s, k)
        return s[top], i[top]


def refreshed(index: VectorIndex | None, folder: Path, catalog: Catalog) -> VectorIndex:
    """`index` caught up with the catalog (a new object; `index` is left as it is), or opened
    again where the indexer has published a newer base since, or a rebuild replaced the
    library."""
    now = catalog.generation()
    if (
        index is None
        or max(published(folder), default=-1) > index.newest
        or catalog.floor() != index.floor
        or catalog.index_stamp() != index.stamp
        or now < index.generation  # rewound under us: a backup restored
    ):
        return VectorIndex.open(folder, catalog)
    return index.updated(catalog) if now != index.generation else index


def best_positions(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")


def published(folder: Path) -> list[int]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()]


def crc32(path: Path) -> int:
    """The file's CRC-32, read once per process while the file stays as it stands
    (`cache.as_it_stands`)."""
    return _crc32(str(path), cache.as_it_stands(path))


def intact(path: Path, crc: int) -> bool:
    """Whether the file's CRC-32 is `crc`: read whole once per boot of this machine while the
    file stands as it was found intact (`cache.as_it_stands`), then remembered in the cache, one
    entry per index folder and kind of file. A million photos' 3 GB took 0.63 s of CPU
    (Zen 4, in the page cache) at every searcher's start. A crash can leave a file's blocks
    unwritten under unchanged times: the next boot reads it whole again."""
    seen = json.dumps([*cache.as_it_stands(path), crc])
    boot, where = _boot(), [str(path.parent), path.suffix]
    if boot and cache.remembered("intact", boot, *where) == seen:
        return True
    if crc32(path) != crc:
        return False
    if boot:
        cache.remember("intact", seen, boot, *where)
    return True


@functools.cache
def _boot() -> str | None:
    """This boot's id (Linux), or None: elsewhere nothing is remembered."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


@functools.lru_cache(64)
def _crc32(path: str, identity: tuple) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc
