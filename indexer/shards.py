"""Parquet shards: embeddings made elsewhere, in a file any tool may write. `altclip-index PHOTOS
--ray --export DIR` writes them on a cluster with no route to the catalog; `altclip-index
--import DIR` merges them into a library (indexer/exchange.py: both). This module is the format:
its schema, rows to and from catalog records, writing shards whole and reading them back.

A shard is a Parquet file `DIR/*.parquet`, one row per photo file, with these columns:

    path               binary    the file's absolute path as bytes (os.fsencode; names that
                                 are not UTF-8 survive); a UTF-8 string column is accepted too
    size               int64     bytes, as os.stat gives it
    mtime_ns           int64     modification time, ns since 1970, as os.stat gives it
    sha256             string    hex digest of the file's bytes; null if it could not be read
    width, height      int32     as the photo is shown (EXIF rotation applied); null if failed
    taken_at           timestamp capture time from EXIF, no time zone (as cameras write it)
    vector             list<float32>  the image embedding, L2-normalised; null if failed
    error              string    why the file could not be embedded; null if it was
    model_fingerprint  string    altclip_core.hub.fingerprint of the checkpoint that embedded

The file's key-value metadata may name the model (`altclip.model`: a hub id or a folder), which a
new library records so that searches embed queries with it. Thumbnails and previews, where an
export made them, lie beside the shards in DIR/thumbs and DIR/previews (search/library_folder.py:
their names). Shards are written whole (a temporary name, then a rename): a killed export leaves
no half-written shard and loses at most the last FLUSH_SECONDS of work.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from search.catalog import ERROR, OK, SHA256, Known, Record, damage

from .errors import IndexerError

COLUMNS = {
    "path": pa.binary(),
    "size": pa.int64(),
    "mtime_ns": pa.int64(),
    "sha256": pa.string(),
    "width": pa.int32(),
    "height": pa.int32(),
    "taken_at": pa.timestamp("us"),
    "vector": pa.list_(pa.float32()),
    "error": pa.string(),
    "model_fingerprint": pa.string(),
}
SCHEMA = pa.schema(list(COLUMNS.items()))

FLUSH_SECONDS = 300  # an export writes what it has at least this often


def to_table(records: list[Record], fingerprint: str) -> pa.Table:
    """Records (an export's batch) as rows of the shard schema."""
    vectors = [r.embedding and np.frombuffer(r.embedding, np.float32) for r in records]
    return pa.table(
        {
            "path": [os.fsencode(r.path) for r in records],
            "size": [r.size for r in records],
            "mtime_ns": [r.mtime_ns for r in records],
            "sha256": [r.sha256 for r in records],
            "width": [r.width for r in records],
            "height": [r.height for r in records],
            "taken_at": [r.taken_at for r in records],
            "vector": vectors,
            "error": [r.error for r in records],
            "model_fingerprint": [fingerprint] * len(records),
        },
        schema=SCHEMA,
    )


def to_records(table: pa.Table, dim: int) -> list[Record]:
    """Rows of the shard schema as catalog records. A row whose hash or vector is unusable (not
    64 hex digits; not `dim` finite numbers of length 1) becomes a failure that says so: any
    tool may write shards, and one such row must not break the library."""
    columns = {name: table.column(name).to_pylist() for name in COLUMNS if name != "vector"}
    vectors = table.column("vector").to_pylist()
    out = []
    for i, path in enumerate(columns["path"]):
        vector, error = vectors[i], columns["error"][i]
        if vector is None:
            error = error or "no vector in the imported shard"
        elif not SHA256.fullmatch(columns["sha256"][i] or ""):
            vector, error = None, "the imported shard's sha256 is not 64 hex digits"
        elif damage((vector := np.asarray(vector, np.float32)).tobytes(), dim):
            error = (
                f"the imported shard's vector ({len(vector)} numbers) is not {dim} finite "
                "numbers of length 1"
            )
            vector = None
        out.append(
            Record(
                os.fsdecode(path) if isinstance(path, bytes) else path,
                columns["size"][i],
                columns["mtime_ns"][i],
                columns["sha256"][i],
                columns["width"][i],
                columns["height"][i],
                columns["taken_at"][i],
                None if vector is not None else error,
                None if vector is None else vector.tobytes(),
            )
        )
    return out


class Writer:
    """Shards of up to `rows` rows in `folder`, each written whole under a new name, and at
    least every FLUSH_SECONDS: a killed export loses at most that much work (on a CPU, 100 000
    rows are days of it)."""

    def __init__(self, folder: Path, model: str, fingerprint: str, rows: int):
        self.folder, self.fingerprint, self.rows = Path(folder), fingerprint, rows
        self.metadata = {b"altclip.model": model.encode()}
        self.pending: list[Record] = []
        self.since = time.monotonic()

    def add(self, records: list[Record]) -> None:
        self.pending.extend(records)
        while len(self.pending) >= self.rows:
            self._write(self.pending[: self.rows])
            self.pending = self.pending[self.rows :]
        if time.monotonic() - self.since >= FLUSH_SECONDS:
            self.close()

    def close(self) -> None:
        if self.pending:
            self._write(self.pending)
            self.pending = []
        self.since = time.monotonic()

    def _write(self, records: list[Record]) -> None:
        table = to_table(records, self.fingerprint)
        table = table.replace_schema_metadata(self.metadata)
        name = f"part-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.folder / f".{name}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, self.folder / name)


class Exported:
    """What the shards in `folder` already hold, in the catalog's terms (plan.make_plan reads
    `known`): an export plans against its own output, so that its rerun resumes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def known(self, rebuild: bool = False) -> dict[str, Known]:
        rows = {}
        for part in shard_files(self.folder):
            table = read_columns(part, ["path", "size", "mtime_ns", "sha256"])
            has_vector = pc.is_valid(read_columns(part, ["vector"]).column(0)).to_pylist()
            facts = zip(*(table.column(i).to_pylist() for i in range(4)), has_vector, strict=True)
            for path, size, mtime_ns, sha256, ok in facts:
                path = os.fsdecode(path) if isinstance(path, bytes) else path
                rows[path] = Known(size, mtime_ns, sha256, OK if ok else ERROR, False)
        return rows

    def damaged(self, pictured=None) -> list[tuple[str, str]]:
        return []  # a shard's rows are checked where they are imported (`to_records`)


def shard_files(folder: Path) -> list[Path]:
    """The shards in `folder`, oldest first (a later shard's row for a path wins)."""
    return sorted(Path(folder).glob("*.parquet"), key=lambda p: (p.stat().st_mtime_ns, p.name))


def read_columns(part: Path, columns: list[str]) -> pa.Table:
    """Some columns of one shard; an IndexerError that names the missing ones."""
    check_columns(part, columns)
    try:
        return pq.read_table(part, columns=columns)
    except (pa.ArrowException, OSError) as e:
        raise IndexerError(f"cannot read the shard {part}: {e}") from None


def check_columns(part: Path, columns) -> None:
    """An IndexerError where the shard cannot be read or lacks any of `columns`."""
    try:
        names = pq.read_schema(part).names
    except (pa.ArrowException, OSError) as e:
        raise IndexerError(f"cannot read the shard {part}: {e}") from None
    missing = sorted(set(columns) - set(names))
    if missing:
        raise IndexerError(
            f"{part} is not a shard of this schema: it lacks {', '.join(missing)} "
            "(indexer/shards.py describes the columns)"
        )


def check_paths(part: Path) -> None:
    """Every path absolute, as the schema says: a relative one names no file (and any folder,
    with `..`), and the library's folder list cannot mix the two."""
    for path in read_columns(part, ["path"]).column(0).to_pylist():
        if not os.path.isabs(os.fsdecode(path or b"")):
            raise IndexerError(
                f"{part} holds a path that is not absolute ({path!r}): these shards were not "
                "written by altclip-index --export; nothing was imported"
            )


def model_of(files: list[Path]) -> tuple[str, str | None]:
    """The one model fingerprint of all shards, and the model name their metadata gives."""
    found, named = set(), None
    for part in files:
        found.update(read_columns(part, ["model_fingerprint"]).column(0).unique().to_pylist())
        metadata = pq.read_schema(part).metadata or {}
        named = named or (metadata.get(b"altclip.model") or b"").decode() or None
    found.discard(None)
    if len(found) != 1:
        many = ", ".join(sorted(found)) or "none"
        raise IndexerError(
            f"the shards must all name one model_fingerprint, not: {many}; import each "
            "model's shards into a library of that model"
        )
    return found.pop(), named


def dim_of(files: list[Path]) -> int | None:
    """The vectors' length: the most common one among the first 1024 vectors of every shard
    (one odd row first must not set a new library's dimension)."""
    lengths: list[int] = []
    for part in files:
        found = 0
        for batch in pq.ParquetFile(part).iter_batches(1024, columns=["vector"]):
            some = pc.list_value_length(batch.column(0)).drop_null().to_pylist()[: 1024 - found]
            lengths += some
            found += len(some)
            if found >= 1024:
                break
    return Counter(lengths).most_common(1)[0][0] if lengths else None
