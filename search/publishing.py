"""Publishing the vector index (search/vector_index.py describes its files): the indexer builds a
new base when none belongs to the catalog or too much changed since the last, streaming the
vectors from the catalog in chunks, writes it atomically, and stamps the catalog with it. Only
the indexer, the catalog's one writer, calls this."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import faiss
import numpy as np

from search.catalog import Catalog
from search.vector_index import (
    ROWS,
    Published,
    VectorIndex,
    best_positions,
    crc32,
    published,
)

EXACT_LIMIT = 100_000  # below this, brute force answers in ~15 ms and is exact
REBUILD_FRACTION = 0.05  # changes, as a share of the base, past which the indexer rebuilds it
TRAIN_SIZE = 65_536  # vectors the quantiser learns from
TUNE_QUERIES, TUNE_RECALL = 100, 0.99
K_FACTORS = (8, 16, 32, 64, 128, 256)
# Text queries sit in a narrow cone of their own, so they need more candidates than photo-vs-photo
# queries for the same recall (2x on bench/search.py's random library); candidates are cheap:
# k_factor 256 costs 1 ms more than 32 at a million photos.
MARGIN = 4


def stale(folder: Path, catalog: Catalog, index: VectorIndex | None = None) -> bool:
    """Whether the indexer should build a new base: none usable, or too much changed since.
    `index`: the catalog's, caught up (`refreshed`), where the caller holds one: its base is
    not loaded again."""
    if catalog.model() is None:
        return False
    base = index.base if index is not None else Published.load(folder, catalog)
    if base is None:
        return catalog.vector_count() > 0 or any(published(folder))
    return catalog.change_count(base.generation) > REBUILD_FRACTION * max(len(base), 1)


def publish_if_stale(folder: Path, catalog: Catalog) -> None:
    """What the indexer does at the end of every run that changed the catalog."""
    if stale(folder, catalog):
        publish(folder, catalog)


def unusable(folder: Path, catalog: Catalog) -> bool:
    """Whether `folder` holds indexes of which none belongs to `catalog` (`Published.load`)."""
    return any(published(folder)) and Published.load(folder, catalog) is None


def publish(folder: Path, catalog: Catalog, exact: bool | None = None) -> int:
    """Build a base from the catalog as it is now, write it atomically, remove older ones; its
    generation. Vectors stream from the catalog to their own file and are read back a chunk at a
    time (never mapped): the build holds the quantiser's sample and codes, not the vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    model = catalog.model()
    dim = model.dim if model else 0
    generation = catalog.generation()
    tmp = {kind: folder / f"{generation}.{kind}.tmp{os.getpid()}" for kind in ("ids", "f32")}
    n = largest = 0
    try:
        with open(tmp["ids"], "wb") as ids_file, open(tmp["f32"], "wb") as vectors_file:
            for ids, vectors in catalog.vectors():
                ids_file.write(ids.tobytes())
                vectors_file.write(np.ascontiguousarray(vectors, np.float32).tobytes())
                n, largest = n + len(ids), max(largest, int(ids.max(initial=0)))
    except OSError as e:  # a full disk, say: named with the folder it could not write to
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, e.filename or str(folder)) from None
    stamp = uuid.uuid4().hex
    manifest = dict(
        catalog=catalog.identity(),
        stamp=stamp,
        generation=generation,
        count=n,
        dim=dim,
        k_factor=0,
        largest_id=largest,
    )
    if (exact is False or (exact is None and n >= EXACT_LIMIT)) and n:
        with _Rows(tmp["f32"], n, dim) as vectors:
            pq, manifest["k_factor"] = _train(vectors)
        tmp["pq"] = folder / f"{generation}.pq.tmp{os.getpid()}"
        faiss.write_index(pq, str(tmp["pq"]))
    manifest["crc32"] = {kind: crc32(path) for kind, path in tmp.items()}
    for kind, path in tmp.items():
        os.replace(path, folder / f"{generation}.{kind}")
    path = folder / f"{generation}.json"
    path.with_suffix(".json.tmp").write_text(json.dumps(manifest))
    os.replace(path.with_suffix(".json.tmp"), path)
    catalog.stamp_index(stamp)  # published: searchers take it from here on
    for old in folder.iterdir():  # older bases, and any a killed build left half written
        if not old.name.startswith(f"{generation}."):
            old.unlink(missing_ok=True)
    catalog.forget_removals(generation)
    return generation


class _Rows:
    """The float32 vectors file being published, read in chunks or by row, without mapping it
    (mapped pages would count in the builder's memory)."""

    def __init__(self, path: Path, n: int, dim: int):
        self.file, self.n, self.dim = open(path, "rb"), n, dim

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def chunks(self):
        """(first row, [rows, dim]) ROWS at a time."""
        self.file.seek(0)
        for start in range(0, self.n, ROWS):
            count = min(ROWS, self.n - start)
            yield start, np.fromfile(self.file, np.float32, count * self.dim).reshape(count, -1)

    def take(self, rows: np.ndarray) -> np.ndarray:
        size = 4 * self.dim
        data = b"".join(os.pread(self.file.fileno(), size, int(r) * size) for r in rows)
        return np.frombuffer(data, np.float32).reshape(len(rows), self.dim)


def _train(vectors: _Rows) -> tuple[faiss.Index, int]:
    """PQ fast-scan codes for the vectors and the k_factor that reaches TUNE_RECALL on the
    library's own vectors."""
    codes = vectors.dim // 2 if vectors.dim % 2 == 0 else vectors.dim
    pq = faiss.index_factory(vectors.dim, f"PQ{codes}x4fs", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    pq.train(vectors.take(np.sort(rng.choice(vectors.n, min(vectors.n, TRAIN_SIZE), False))))
    for _, chunk in vectors.chunks():
        pq.add(chunk)
    return pq, _tune(pq, vectors)


def _tune(pq: faiss.Index, vectors: _Rows) -> int:
    """MARGIN times the smallest of K_FACTORS whose recall@10 on TUNE_QUERIES of the library's
    own vectors, against exact search, reaches TUNE_RECALL (each query's own vector left out)."""
    rng = np.random.default_rng(1)
    queries = vectors.take(np.sort(rng.choice(vectors.n, min(vectors.n, TUNE_QUERIES), False)))
    truth = [set(rows[1:].tolist()) for rows in _exact_top(queries, vectors, 11)]
    for k_factor in K_FACTORS:
        _, candidates = pq.search(queries, 11 * k_factor)
        hits = 0
        for q, rows, t in zip(queries, candidates, truth, strict=True):
            rows = np.sort(rows[rows >= 0])
            hits += len(t & set(rows[best_positions(vectors.take(rows) @ q, 11)].tolist()))
        if hits >= TUNE_RECALL * 10 * len(queries):
            break
    return k_factor * MARGIN


def _exact_top(queries: np.ndarray, vectors: _Rows, k: int) -> np.ndarray:
    """[Q, k] rows of `vectors` best for each query, best first, a chunk at a time."""
    rows = np.empty((len(queries), 0), np.int64)
    scores = np.empty((len(queries), 0), np.float32)
    for start, chunk in vectors.chunks():
        scores = np.concatenate([scores, queries @ chunk.T], axis=1)  # [Q, k + chunk]
        positions = np.arange(start, start + len(chunk))
        rows = np.concatenate([rows, np.broadcast_to(positions, (len(queries), len(chunk)))], 1)
        keep = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
        scores, rows = np.take_along_axis(scores, keep, 1), np.take_along_axis(rows, keep, 1)
    return np.take_along_axis(rows, np.argsort(-scores, axis=1), 1)


def reserve_ids(folder: Path, catalog: Catalog) -> None:
    """Ids the indexes in `folder` made from this catalog hold are never given again, even by a
    catalog restored from a backup older than them (the indexer calls this before it writes)."""
    largest = 0
    for generation in published(folder):
        try:
            manifest = json.loads((folder / f"{generation}.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("catalog") == catalog.identity():
            largest = max(largest, int(manifest.get("largest_id") or 0))
    if largest:
        catalog.reserve_ids(largest)
