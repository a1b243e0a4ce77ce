"""The vector index: FAISS over the catalog's embeddings, keyed by photo id, derived and disposable.

The file name carries the catalog generation it reflects (`vectors-<generation>.faiss`); it is
written to a temporary name and renamed into place, and a missing, stale or unreadable file is
rebuilt from the catalog. Small libraries get exact inner-product search; large ones an HNSW graph.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy.orm import Session

from search import catalog

EXACT_LIMIT = 100_000  # below this, brute force answers in a few ms and is exact
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128


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
        if exact if exact is not None else len(ids) < EXACT_LIMIT:
            inner = faiss.IndexFlatIP(dim)
        else:
            inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids.astype(np.int64))
        return cls(index, generation)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores [Q, k], ids [Q, k]) best first; missing neighbours have id -1."""
        k = max(1, min(k, len(self)))
        return self.index.search(np.ascontiguousarray(queries, np.float32), k)

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
        try:
            return cls(faiss.read_index(str(path)), generation)
        except RuntimeError:  # faiss reports a missing or unreadable file this way
            return None


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
