"""Embeddings handed over as Parquet shards (indexer/shards.py: the format): `export` runs the
stages into shards instead of a catalog (`altclip-index PHOTOS [--ray] --export DIR`, for a cluster
with no route to the catalog); `import_shards` merges shards into a library through the catalog's
one writer (`altclip-index --import DIR`). Needs pyarrow (the [parquet] extra): imported only by
those two commands, never by a plain run.

What they guarantee:
- An export's rerun exports only the files no shard holds yet (or that changed since), and a
  file that failed again, unchanged, is not written twice; what was embedded is written whatever
  stopped the run.
- An import refuses shards of another model than the library's before any row is written, and
  checks every shard's columns and paths first; a row it cannot use is a failure that says why,
  never a broken library. It changes nothing for rows it already holds (twice is harmless), and
  copies thumbnails and previews from DIR/thumbs and DIR/previews where an export wrote them.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from altclip_core import hub
from altclip_core.errors import AltCLIPError
from search import publishing
from search.catalog import ERROR, OK, Catalog, Known, Model, Record
from search.library_folder import (
    PICTURES,
    index_folder,
    picture,
    recorded_name,
    remove_leftovers,
    writer_lock,
)

from .decode import Decoded, place
from .errors import IndexerError
from .runner import Runner
from .shards import (
    COLUMNS,
    Exported,
    Writer,
    check_columns,
    check_paths,
    dim_of,
    model_of,
    shard_files,
    to_records,
)
from .store import publish
from .summary import Summary

IMPORT_BATCH = 500  # rows per catalog transaction on import


def export(
    runner: Runner,
    roots: list[Path],
    folder: Path,
    stop: threading.Event | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Summary:
    """Embed `roots` into Parquet shards in `folder` with `runner`'s stages and settings (its
    `model`, else hub.DEFAULT_MODEL); Indexer.export calls this."""
    start = time.perf_counter()
    for root in roots:
        if not Path(root).is_dir():
            raise IndexerError(f"{root} is not a folder")
    name = runner.model or hub.DEFAULT_MODEL
    model_folder = hub.resolve(name)
    shown = recorded_name(name, model_folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = Summary()
    with writer_lock(folder):
        remove_leftovers(folder)  # the pictures of a killed export
        for leftover in folder.glob(".*.parquet.tmp"):
            leftover.unlink(missing_ok=True)
        decoder = runner.decoder(model_folder, folder)
        plan = runner.plan(Exported(folder), [os.path.abspath(r) for r in roots], False)
        summary.unchanged = plan.unchanged
        shards = shard_files(folder)  # an export resumed: its shards' fingerprint, if it is ours
        written = model_of(shards[-1:])[0] if shards else None
        fingerprint = hub.fingerprint_for(model_folder, written)
        writer = Writer(folder, shown, fingerprint, runner.shard_rows)
        done = 0
        embedder = runner.embedder(model_folder)
        try:
            for batch in runner.embedded(plan.todo, set(), decoder, embedder, name, model_folder):
                writer.add([d.record() for d in batch if not _failed_again(d, plan.known)])
                for d in batch:
                    summary.count(d, plan.known)
                done += len(batch)
                progress(done, len(plan.todo))
                if stop is not None and stop.is_set():
                    summary.interrupted = True
                    break
        finally:  # what was embedded is kept, whatever stopped the run
            writer.close()
    summary.seconds = time.perf_counter() - start
    return summary


def import_shards(
    library: Path, folder: Path, catalog_url: str | None = None, model: str | None = None
) -> Summary:
    """Merge the shards in `folder` into `library`'s catalog and publish its index.

    Args:
        model: the model a new library records (default: the shards' `altclip.model`, else
            hub.DEFAULT_MODEL); its fingerprint must be the shards'.

    Returns:
        What changed: added, updated, failed, unchanged (rows the catalog already held).
    """
    start = time.perf_counter()
    files = shard_files(folder) if Path(folder).is_dir() else []
    if not files:
        raise IndexerError(f"no Parquet shards (*.parquet) in {folder}")
    for part in files:  # all of them readable, before anything is written
        check_columns(part, COLUMNS)
        check_paths(part)
    fingerprint, named = model_of(files)
    library.mkdir(parents=True, exist_ok=True)
    summary = Summary()
    with writer_lock(library, catalog_url):
        remove_leftovers(library)
        catalog = Catalog.open(library, catalog_url)
        _check_model(catalog, files, fingerprint, model or named or hub.DEFAULT_MODEL)
        publishing.reserve_ids(index_folder(library), catalog)
        dim = catalog.model().dim
        for part in files:
            for batch in pq.ParquetFile(part).iter_batches(IMPORT_BATCH, columns=list(COLUMNS)):
                records = to_records(pa.Table.from_batches([batch]), dim)
                known = catalog.rows_at([r.path for r in records])  # not every row at once
                fresh = [r for r in records if not _same(known.get(r.path), r)]
                summary.unchanged += len(records) - len(fresh)
                if not fresh:
                    continue
                _copy_pictures(Path(folder), library, fresh)
                catalog.store(fresh)
                for r in fresh:
                    kind = "updated" if r.path in known else "added"
                    kind = "failed" if r.embedding is None else kind
                    setattr(summary, kind, getattr(summary, kind) + 1)
        publish(catalog, library)
    summary.seconds = time.perf_counter() - start
    return summary


def _failed_again(d: Decoded, known: dict[str, Known]) -> bool:
    """True for a file that failed again, unchanged since it failed: its row is there already
    (with the reason it failed then)."""
    row = known.get(d.entry.path)
    return (
        d.vector is None
        and row is not None
        and row.status == ERROR
        and (row.size, row.mtime_ns) == (d.entry.size, d.entry.mtime_ns)
    )


def _check_model(catalog: Catalog, files: list[Path], fingerprint: str, name: str) -> None:
    """Shards of another model than the library's are refused before any row is written; a
    new library records the named model, if its weights are the shards'."""
    recorded = catalog.model()
    if recorded is None:
        folder = hub.resolve(name)
        if not hub.same_weights(folder, fingerprint):
            raise IndexerError(
                f"these shards were embedded by another model than {name} (fingerprint "
                f"{fingerprint}, not {hub.fingerprint(folder)}): name theirs with --model"
            )
        model = Model(recorded_name(name, folder), hub.fingerprint(folder), dim_of(files))
        catalog.set_model(model)
    elif recorded.fingerprint != fingerprint and not _one_model(recorded, fingerprint):
        raise IndexerError(
            f"these shards were embedded by another model (fingerprint {fingerprint}) than "
            f"this library's {recorded.name} ({recorded.fingerprint}): import them into a "
            "library of that model, or export them again with this one"
        )
    elif dim_of(files) not in (None, recorded.dim):
        raise IndexerError(f"the shards' vectors are not {recorded.dim}-dimensional")


def _one_model(recorded: Model, fingerprint: str) -> bool:
    """Whether the library's model and the shards' fingerprint name the same weights here, one
    of them recorded before fingerprints read every byte."""
    try:
        folder = hub.resolve(recorded.name)
    except AltCLIPError:  # not here: their fingerprints alone decide
        return False
    return hub.same_weights(folder, recorded.fingerprint) and hub.same_weights(folder, fingerprint)


def _same(known: Known | None, r: Record) -> bool:
    return known is not None and (known.size, known.mtime_ns, known.sha256, known.status) == (
        r.size,
        r.mtime_ns,
        r.sha256,
        _status(r),
    )


def _status(r: Record) -> str:
    return OK if r.embedding is not None else ERROR


def _copy_pictures(source: Path, library: Path, records: list[Record]) -> None:
    """Thumbnails and previews an export wrote beside its shards, for these photos."""
    hashes = {r.sha256 for r in records if r.embedding is not None}
    for sha, kind in itertools.product(hashes, PICTURES):
        there, here = picture(source, kind, sha), picture(library, kind, sha)
        if there.is_file() and not here.exists():
            place(library, here, functools.partial(shutil.copyfile, there))
