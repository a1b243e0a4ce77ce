"""`altclip-index PHOTOS --ray [ADDRESS]`: the indexer's stages on a Ray cluster, through Ray Data.

The driver plans as the local indexer does (plan.py: only new and changed files travel), then
sends the work list through Ray Data: decode (read, hash, thumbnails, preprocess: the local
Decoder) in CPU tasks → embed (the local Embedder, the image tower only, loaded once per actor:
one actor per GPU where the cluster has GPUs, a CPU pool otherwise) → back to the driver, which
alone writes the catalog, a transaction per batch, with the local indexer's code (Indexer.run,
store.py).
A killed driver loses the batches in flight only, as locally: its rerun plans again from the
catalog and finishes the job. Ray retries a task whose worker died; a file that fails is
recorded with its reason. With `--export DIR`, the driver writes Parquet shards (exchange.py)
instead of the catalog, for clusters with no route to it.

Thumbnails and previews are written by the decode tasks straight into the library folder (or
the export folder), which must be on a file system every node mounts at the same path, as the
photos must be: a 1600-pixel preview is ~300 KB, so returning them as bytes would funnel
~300 MB/s through the one driver at 1000 images/s, while the workers already read the photos
from shared storage. The driver checks that every node sees the library before it starts.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

from altclip_core import hub
from altclip_core.errors import AltCLIPError
from search.library_folder import recorded_name

from . import shards
from .decode import Decoded, Decoder
from .embed import Embedder
from .errors import IndexerError
from .run import Indexer
from .scan import Entry

GPU_BATCH = 512  # rows per call of a GPU actor (it cuts them to what the card holds)
DECODE_BLOCK = 32  # files per decode task
DECODE_MEMORY = 512 * 2**20  # bytes a decode task may use


@dataclass
class RayIndexer(Indexer):
    """The Indexer whose decode and embed stages run on a Ray cluster (`address`: None starts
    a local one, or joins the one RAY_ADDRESS names, as ray.init does)."""

    address: str | None = None

    def embedded(
        self,
        todo: list[Entry],
        known: set[str],
        decoder: Decoder,
        embedder: Embedder | None,
        name: str,
        folder: Path,
    ) -> Iterator[list[Decoded]]:
        if not todo:
            return
        ray = _connect(self.address)
        _check_shared(ray, decoder.pictures, os.path.dirname(todo[0].path))
        # Ray Data's settings are the process's (a dataset copies them when it is made):
        # changed for this run only.
        context = ray.data.DataContext.get_current()
        before = context.enable_progress_bars, context.raise_original_map_exception
        context.enable_progress_bars = False  # the indexer has its own
        context.raise_original_map_exception = True  # a failed stage's own error, for _cause
        try:
            yield from self._stream(ray, todo, known, decoder, name, folder)
        finally:
            context.enable_progress_bars, context.raise_original_map_exception = before

    def _stream(
        self, ray, todo: list[Entry], known: set[str], decoder: Decoder, name: str, folder: Path
    ) -> Iterator[list[Decoded]]:
        entries = pa.table(
            {
                "path": [os.fsencode(e.path) for e in todo],
                "size": pa.array([e.size for e in todo], pa.int64()),
                "mtime_ns": pa.array([e.mtime_ns for e in todo], pa.int64()),
            }
        )
        blocks = [entries.slice(i, DECODE_BLOCK) for i in range(0, len(todo), DECODE_BLOCK)]
        gpus = int(ray.cluster_resources().get("GPU", 0))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if gpus:  # one actor per GPU; the decode tasks have every CPU but one per actor
            actors, resources, batch = gpus, dict(num_gpus=1, num_cpus=1), GPU_BATCH
        else:  # the tower is the slow stage on CPU: half the CPUs, in actors of ~8 threads
            actors = max(1, cpus // 16)
            resources, batch = dict(num_cpus=max(1, cpus // 2 // actors)), self.batch_size
        model = recorded_name(name, folder)
        # A decode task holds one photo at full size at most (100 megapixels: 300 MB of RGB);
        # asking for its memory also keeps Ray from fusing the decoding into the embedding
        # actors (it fuses stages whose resources are equal), where it would starve a GPU.
        ds = ray.data.from_arrow(blocks).map_batches(
            partial(_decode, decoder, ray.put(_Prefixes.of(known))),
            batch_format="pyarrow",
            num_cpus=1,
            memory=DECODE_MEMORY,
        )
        ds = ds.map_batches(
            _Embed,
            fn_constructor_kwargs=dict(
                model=model, fingerprint=hub.fingerprint(folder), device=self.device, int8=self.int8
            ),
            batch_size=batch,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            **resources,
        )
        try:
            for table in ds.iter_batches(batch_size=self.batch_size, batch_format="pyarrow"):
                yield _decoded(table)
        except ray.exceptions.RayError as e:
            raise IndexerError(f"the Ray job failed: {_cause(e)}") from None


class _Embed:
    """A Ray Data actor: the image tower, loaded once, embedding decoded batches."""

    def __init__(self, model: str, fingerprint: str, device: str | None, int8: bool):
        # What fails here is raised by the first call instead: Ray reports an error in a call
        # with its cause, one in a constructor as the actor's death, after retrying it.
        self.error: AltCLIPError | None = None
        try:
            folder = hub.resolve(model)
            if hub.fingerprint(folder) != fingerprint:
                raise IndexerError(
                    f"the model {model} on this node is not the driver's (fingerprint "
                    f"{hub.fingerprint(folder)}, not {fingerprint}): give every node the same copy"
                )
            warn = partial(print, "warning:", file=sys.stderr)
            self.embedder = Embedder(folder, device, int8, warn)
            self.embedder.probe()  # load the tower now, once
        except AltCLIPError as e:
            self.error = e

    def __call__(self, table: pa.Table) -> pa.Table:
        if self.error is not None:
            raise self.error
        batch = _decoded(table)
        self.embedder.embed(batch)
        return _table(batch)


def _decode(decoder: Decoder, known, table: pa.Table) -> pa.Table:
    """A Ray Data task: a block of files (path, size, mtime_ns) decoded; `known`: the object
    ref of the library's _Prefixes."""
    import ray

    known = ray.get(known)
    paths, sizes, times = (table.column(c).to_pylist() for c in ("path", "size", "mtime_ns"))
    entries = [Entry(os.fsdecode(p), s, t) for p, s, t in zip(paths, sizes, times, strict=True)]
    return _table([decoder.decode(e, known) for e in entries])


@dataclass
class _Prefixes:
    """The library's known contents as the sorted first 64 bits of their sha256: 8 bytes a
    photo, put once in Ray's object store and read there without a copy by every task on a
    node (a set of 100 million hex strings would be ~10 GB in each worker). A prefix that
    matches by chance (odds ~N/2^64) only costs the driver a decode: Store.copy_known finds no
    catalog row with the whole hash and decodes the file itself."""

    keys: np.ndarray  # [N] uint64, sorted

    @classmethod
    def of(cls, hashes: set[str]) -> _Prefixes:
        return cls(np.unique(np.array([int(h[:16], 16) for h in hashes], np.uint64)))

    def __contains__(self, sha256: str) -> bool:
        key = np.uint64(int(sha256[:16], 16))
        i = np.searchsorted(self.keys, key)
        return bool(i < len(self.keys) and self.keys[i] == key)


# Decoded files as they travel between the stages: the facts a shard holds (paths as bytes:
# names that are not UTF-8 survive), pixels as uint8 bytes and vectors as float32 bytes.
FACTS = ("path", "size", "mtime_ns", "sha256", "width", "height", "taken_at", "error")
COLUMNS = {name: shards.COLUMNS[name] for name in FACTS} | {
    "reuse": pa.bool_(),
    "pixels": pa.binary(),
    "shape": pa.list_(pa.int32()),
    "vector": pa.binary(),
}


def _table(batch: list[Decoded]) -> pa.Table:
    def column(name, get):
        return pa.array([get(d) for d in batch], COLUMNS[name])

    return pa.table(
        {
            "path": column("path", lambda d: os.fsencode(d.entry.path)),
            "size": column("size", lambda d: d.entry.size),
            "mtime_ns": column("mtime_ns", lambda d: d.entry.mtime_ns),
            **{n: column(n, lambda d, n=n: getattr(d, n)) for n in ("sha256", "width", "height")},
            **{n: column(n, lambda d, n=n: getattr(d, n)) for n in ("taken_at", "error", "reuse")},
            "pixels": column("pixels", lambda d: None if d.pixels is None else d.pixels.tobytes()),
            "shape": column("shape", lambda d: None if d.pixels is None else list(d.pixels.shape)),
            "vector": column("vector", lambda d: d.vector),
        }
    )


def _decoded(table: pa.Table) -> list[Decoded]:
    rows = table.select(list(COLUMNS)).to_pylist()
    out = []
    for r in rows:
        pixels = None
        if r["pixels"] is not None:
            pixels = np.frombuffer(r["pixels"], np.uint8).reshape(r["shape"])
        entry = Entry(os.fsdecode(r["path"]), r["size"], r["mtime_ns"])
        facts = {k: r[k] for k in ("sha256", "width", "height", "taken_at", "error", "reuse")}
        out.append(Decoded(entry, pixels=pixels, vector=r["vector"], **facts))
    return out


def _connect(address: str | None):
    """Ray, connected (to `address`, else as ray.init decides) unless it already is."""
    import ray

    if not ray.is_initialized():
        try:
            ray.init(address=address, logging_level="warning", log_to_driver=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise IndexerError(f"cannot reach the Ray cluster at {address}: {e}") from None
    return ray


def _check_shared(ray, folder: Path, photos: str) -> None:
    """Every alive node must see `folder` (this very folder: a marker written here) and the
    photos, or thumbnails would land on the nodes' own disks and every file would fail."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f".ray-check-{uuid.uuid4().hex[:12]}"
    marker.touch()
    try:
        probe = ray.remote(num_cpus=0)(_sees)
        nodes = [n for n in ray.nodes() if n["Alive"]]
        refs = [
            probe.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(marker), photos)
            for n in nodes
        ]
        for node, missing in zip(nodes, ray.get(refs), strict=True):
            if missing:
                raise IndexerError(
                    f"the Ray node {node['NodeManagerAddress']} does not see {missing}: mount "
                    "the photos and the library (or --export folder) on every node at the same "
                    "path"
                )
    finally:
        marker.unlink(missing_ok=True)


def _sees(marker: str, photos: str) -> str | None:
    if not os.path.exists(marker):
        return os.path.dirname(marker)  # the library folder the marker is in
    return None if os.path.exists(photos) else photos


def _cause(e: BaseException) -> str:
    """What went wrong in a task or actor, in one line, without Ray's wrappers and traceback."""
    while (inner := getattr(e, "cause", None) or e.__cause__) is not None and inner is not e:
        e = inner
    lines = str(e).strip().splitlines()  # Ray appends advice on retries to the message
    if isinstance(e, AltCLIPError):
        return lines[0]
    return f"{type(e).__name__}: {lines[-1]}" if lines else type(e).__name__
