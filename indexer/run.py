"""Folder in, library out: the Indexer, which runs the four stages under the library's writer
lock. Plan (plan.py: scan the folders, diff them against the catalog), decode (decode.py: a file
in, pixels and facts out, in worker threads), embed (embed.py: the image tower, in batches) and
store (store.py: one writer, a transaction per batch); then what disappeared is removed and, when
enough changed, a new vector index is published. runner.py drives files through decode and embed
(distributed.py: on a Ray cluster); exchange.py writes them to Parquet shards instead.

A kill at any moment loses at most the batch in flight: committed rows are unchanged files on the
next run, rows are keyed by path (no duplicates), and the vector index is derived from the catalog.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from altclip_core import hub
from search import publishing
from search.catalog import Catalog, CatalogError, Model, NoCatalog
from search.library_folder import (
    MARKER,
    index_folder,
    recorded_name,
    remove_leftovers,
    writer_lock,
)
from search.vector_index import VectorIndex

from .decode import Decoder
from .embed import Embedder
from .errors import IndexerError
from .plan import Place, Plan
from .reading import Reading
from .runner import Runner
from .scan import Entry
from .store import Store, publish, remove
from .summary import Summary


@dataclass
class Indexer(Runner):
    """Index photo folders into the library at `library` (its catalog at `catalog_url`, if not
    the folder's own SQLite file). The fields are the Runner's settings."""

    def run(
        self,
        roots: list[Path],
        rebuild: bool = False,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> Summary:
        """Index `roots` into the library. `stop` ends the run cleanly after the current batch.

        With `rebuild`, every photo is embedded again into a table beside the library, which
        keeps answering searches; the new vectors replace the old ones in one transaction at the
        end. A killed rebuild leaves the library as it was, and the next `rebuild` resumes."""
        with self.opened(roots, rebuild) as job:
            return job.index(stop=stop, progress=progress)

    @contextmanager
    def opened(self, roots: list[Path], rebuild: bool = False) -> Iterator[Job]:
        """The library opened for writing `roots` into it: its writer lock held (the holder's
        process named in it, see `holder`), leftovers removed, the model checked, the stages
        made. `Job.index` runs a plan through them, as often as the watcher asks."""
        for root in roots:
            if not Path(root).is_dir():
                raise IndexerError(self._not_a_folder(root))
        name = self.model or _recorded_model(self.library, self.catalog_url) or hub.DEFAULT_MODEL
        folder = hub.resolve(name)  # before anything is made: no half-made library
        if self.library.exists() and not self.library.is_dir():
            raise IndexerError(f"{self.library} is a file; --library names a folder")
        self.library.mkdir(parents=True, exist_ok=True)
        with writer_lock(self.library, self.catalog_url):
            (self.library / MARKER).write_text(f"{os.getpid()} {shlex.join(sys.argv)}\n")
            remove_leftovers(self.library)
            catalog = Catalog.open(self.library, self.catalog_url)
            try:
                publishing.reserve_ids(index_folder(self.library), catalog)
                decoder = self.decoder(folder, self.library)
                embedder = self.embedder(folder)
                self._check_model(catalog, name, folder, embedder, rebuild)
                roots = [os.path.abspath(r) for r in roots]
                reading = self.reading()
                yield Job(self, catalog, decoder, embedder, name, folder, roots, rebuild, reading)
            finally:
                catalog.close()

    def export(
        self,
        roots: list[Path],
        folder: Path,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> Summary:
        """Embed `roots` into Parquet shards in `folder` (indexer/shards.py: the schema) instead
        of a catalog, for a library elsewhere to import. A rerun exports only the files no
        shard holds yet (or that changed since)."""
        from .exchange import export  # pyarrow: the [parquet] extra

        return export(self, roots, folder, stop, progress)

    def forget(self, folder: Path) -> int:
        """Remove the library's photos under `folder` (a folder deleted, or no longer wanted);
        no file is touched. Returns how many."""
        Catalog.open(self.library, self.catalog_url, create=False)  # none: one line that says so
        self.library.mkdir(parents=True, exist_ok=True)  # a PostgreSQL library's, perhaps
        with writer_lock(self.library, self.catalog_url):
            catalog, place = Catalog.open(self.library, self.catalog_url), os.path.abspath(folder)
            gone = [p for p, _ in catalog.rows_under(place)] + list(catalog.odd_rows_under(place))
            remove(catalog, self.library, gone, {}, rebuild=False)
            catalog.record_folders([place], {})  # listed afresh by the next rescan
            publish(catalog, self.library)
        return len(gone)

    def _not_a_folder(self, root) -> str:
        """What to say of a photo folder that is not there: how to forget its photos, if any."""
        place = os.path.abspath(root)
        try:
            catalog = Catalog.open(self.library, self.catalog_url, create=False)
            held = sum(1 for _ in catalog.rows_under(place)) + len(catalog.odd_rows_under(place))
        except CatalogError:
            held = 0
        if os.path.isfile(root):
            return f"{root} is a file: name the folder that holds it"
        if not held:
            return f"{root} is not a folder"
        return (
            f"{root} is not a folder; the library holds {held} photos from it: to forget them, "
            f"run {self.forget_command(root)}"
        )

    def forget_command(self, root) -> str:
        """The command that forgets the photos under `root`, for this library."""
        command = f"altclip-index --forget {shlex.quote(str(root))}"
        command += f" --library {shlex.quote(str(self.library))}"
        return command + (" with the same --catalog" if self.catalog_url else "")

    def _check_model(
        self, catalog: Catalog, name: str, folder: Path, embedder: Embedder, rebuild: bool
    ) -> None:
        """A model new to the library must load and embed an image first, so a damaged
        checkpoint changes nothing; one that differs from the library's needs `rebuild`."""
        recorded = catalog.model()
        if recorded is not None and not rebuild:
            if hub.same_weights(folder, recorded.fingerprint):
                return
            raise IndexerError(
                f"this library was built with another model ({recorded.name}); index with that "
                "model, or re-embed every photo with this one: add --rebuild"
            )
        dim = embedder.probe()
        pending = catalog.pending_model()  # a rebuild begun before fingerprints read every byte
        fingerprint = hub.fingerprint_for(folder, pending.fingerprint if pending else None)
        model = Model(recorded_name(name, folder), fingerprint, dim)
        if recorded is None and not rebuild:
            catalog.set_model(model)
        else:
            catalog.start_rebuild(model)


def _recorded_model(library: Path, url: str | None) -> str | None:
    """The model an existing library was built with; None where there is no library yet (and
    none is made by asking)."""
    try:
        model = Catalog.open(library, url, create=False).model()
    except NoCatalog:
        return None  # a damaged one says so itself, rather than sending us to the hub
    return model.name if model is not None else None


@dataclass
class Job:
    """The library open for writing, with the stages made: `index` plans and runs, once for a
    run, once per change for the watcher (which keeps the model loaded and the lock held)."""

    indexer: Indexer
    catalog: Catalog
    decoder: Decoder
    embedder: Embedder
    name: str
    folder: Path
    roots: list[str]
    rebuild: bool
    reading: Reading | None = None  # the reading pass, its reader loaded once
    plan: Plan | None = None  # the last one (the watcher asks what it left for later)
    vectors: VectorIndex | None = None  # the vector index, caught up at each plan's end

    def index(
        self,
        places: list[Place] | None = None,
        settled: Callable[[Entry], bool] | None = None,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> Summary:
        """Plan the `places` (plan.py; default: the roots, walked whole) and run the plan:
        decode, embed, store; then removals, the folders' times, and a vector index published
        where enough changed. `stop` ends it cleanly after the current batch."""
        start, runner, catalog = time.perf_counter(), self.indexer, self.catalog
        self.plan = plan = runner.plan(catalog, self.roots, self.rebuild, places, settled)
        summary = Summary(unchanged=plan.unchanged, offline=plan.unreachable, moved=plan.moved)
        todo = {e.path for e in plan.todo}
        summary.remade = [(p, why) for p, why in plan.damaged.items() if p in todo]
        store = Store(catalog, runner.library, plan, summary, self.rebuild)
        done = 0
        batches = runner.embedded(
            plan.todo, plan.hashes, self.decoder, self.embedder, self.name, self.folder
        )
        for batch in batches:
            store.copy_known(batch, self.decoder)
            self.embedder.embed(batch)  # the files copy_known had to decode again, if any
            store.add(batch)
            done += len(batch)
            progress(done, len(plan.todo))
            if stop is not None and stop.is_set():
                summary.interrupted = True
                break
        if not summary.interrupted:
            # Removals, marks, and pictures no row uses any more (O(library): only where a row
            # went or changed, not for a watcher's photo added).
            if self.rebuild or plan.gone or plan.offline or summary.updated or summary.failed:
                store.finish()
            catalog.record_folders(plan.trees, plan.folders)  # listed, and now all stored
            self.rebuild = False  # a watcher's next plans add to the rebuilt library
        self.vectors = publish(catalog, runner.library, self.reading, self.vectors, stop)
        summary.seconds = time.perf_counter() - start
        summary.int8_cosine = self.embedder.int8_cosine
        return summary


def holder(library: Path) -> str:
    """Which process holds the library's writer lock, as it wrote itself into the lock file
    (`Indexer.opened`): its pid and command line; "" where nothing is written."""
    try:
        said = (Path(library) / MARKER).read_text(errors="replace").strip()
    except OSError:
        return ""
    pid, _, command = said.partition(" ")
    return f"process {pid}: {command}" if pid.isdigit() else ""
