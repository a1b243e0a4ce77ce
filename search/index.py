"""The vector index: FAISS over the catalog's embeddings, keyed by photo id, derived and disposable.

The file name carries the catalog generation it reflects (`vectors-<generation>.faiss`); it is
written to a temporary name and renamed into place, and a missing, stale or unreadable file is
rebuilt from the catalog. Small libraries get exact inner-product search. Large ones get product
quantisation scanned with SIMD (FAISS "fast scan": 4-bit codes of 2-dimensional sub-vectors), whose
best `k * k_factor` candidates are re-scored exactly from the float32 vectors: scores stay exact
cosines, only recall is approximate. `k_factor` is tuned at build time on the library's own vectors.
On 1 000 000 random 768-d vectors this answers in ~9 ms at recall@10 ≥ 0.99, where brute force takes
~145 ms (bench/search.py); an HNSW graph (M 32) took 141 s to build on 200 000 of them and found
70% of the true top 10 at efSearch 2048.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy.orm import Session

from search import catalog

EXACT_LIMIT = 100_000  # below this, brute force answers in ~15 ms and is exact
TRAIN_SIZE = 65_536  # vectors the quantiser learns from
TUNE_QUERIES, TUNE_RECALL = 100, 0.99
K_FACTORS = (8, 16, 32, 64, 128, 256)
# Text queries sit in a narrow cone of their own, so they need more candidates than photo-vs-photo
# queries for the same recall (2x on bench/search.py's random library); candidates are cheap:
# k_factor 256 costs 1 ms more than 32 at a million photos.
MARGIN = 4


class VectorIndex:
    def __init__(self, index: faiss.Index, generation: int):
        self.index, self.generation = index, generation

    @property
    def exact(self) -> bool:
        return isinstance(faiss.downcast_index(self.index.index), faiss.IndexFlat)

    def __len__(self) -> int:
        return self.index.ntotal

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, generation: int, exact: bool | None = None
    ) -> VectorIndex:
        dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 1
        vectors = np.ascontiguousarray(vectors, np.float32)
        if exact if exact is not None else len(ids) < EXACT_LIMIT:
            inner = faiss.IndexFlatIP(dim)
        else:
            codes = dim // 2 if dim % 2 == 0 else dim
            inner = faiss.index_factory(dim, f"PQ{codes}x4fs,RFlat", faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            inner.train(vectors[rng.permutation(len(vectors))[:TRAIN_SIZE]])
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            index.add_with_ids(vectors, ids.astype(np.int64))
        if not isinstance(inner, faiss.IndexFlat):
            _tune(faiss.downcast_index(inner), vectors)
        return cls(index, generation)

    def search(
        self, queries: np.ndarray, k: int, exact: bool = False, among: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores [Q, k], ids [Q, k]) best first; missing neighbours have id -1. `exact` scans
        every vector even where the index is approximate (to check recall); `among` (photo ids)
        searches those photos only, exactly."""
        k = max(1, min(k, len(self)))
        queries = np.ascontiguousarray(queries, np.float32)
        if among is None and (self.exact or not exact):
            return self.index.search(queries, k)
        inner = faiss.downcast_index(self.index.index)
        flat = inner if self.exact else inner.refine_index  # the float32 vectors, by position
        params = None
        if among is not None:
            wanted = faiss.IDSelectorBatch(np.ascontiguousarray(among, np.int64))
            by_position = faiss.IDSelectorTranslated(self.index.id_map, wanted)
            params = faiss.SearchParameters(sel=by_position)
        scores, rows = flat.search(queries, k, params=params)
        return scores, np.where(rows >= 0, faiss.vector_to_array(self.index.id_map)[rows], -1)

    def save(self, folder: Path) -> Path:
        path = folder / f"vectors-{self.generation}.faiss"
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)
        for old in folder.glob("vectors-*.faiss"):
            if old != path:
                old.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, folder: Path, generation: int) -> VectorIndex | None:
        """The saved index of exactly this catalog generation, or None (missing, stale, corrupt)."""
        path = folder / f"vectors-{generation}.faiss"
        try:  # the float32 vectors stay memory-mapped: 0.4 s instead of 1.6 s at a million
            return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), generation)
        except RuntimeError:  # faiss reports a missing or unreadable file this way
            return None


def _tune(index: faiss.IndexRefine, vectors: np.ndarray) -> None:
    """Set `index.k_factor` to MARGIN times the smallest of K_FACTORS whose recall@10 on
    TUNE_QUERIES of the library's own vectors, against exact search, reaches TUNE_RECALL (each
    query's own vector left out of both)."""
    rng = np.random.default_rng(1)
    queries = vectors[rng.permutation(len(vectors))[:TUNE_QUERIES]]
    _, truth = index.refine_index.search(queries, 11)
    for k_factor in K_FACTORS:
        index.k_factor = k_factor
        _, found = index.search(queries, 11)
        hits = [len(set(t[1:]) & set(f)) for t, f in zip(truth, found, strict=True)]
        if sum(hits) >= TUNE_RECALL * 10 * len(queries):
            break
    index.k_factor *= MARGIN


def refresh_index(engine, library: Path) -> VectorIndex:
    """The vector index for the catalog as it is now: loaded if current, else rebuilt and saved."""
    with Session(engine) as s:
        gen = catalog.generation(s)
        index = VectorIndex.load(library, gen)
        if index is None:
            ids, vectors = catalog.vectors(s)
            index = VectorIndex.build(ids, vectors, gen)
            try:
                index.save(library)
            except OSError:
                pass  # a read-only library still searches, from the index rebuilt in memory
    return index
