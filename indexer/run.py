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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from altclip_core import hub
from search import publishing
from search.catalog import Catalog, CatalogError, Model, NoCatalog, under
from search.library_folder import index_folder, recorded_name, remove_leftovers, writer_lock

from .embed import Embedder
from .runner import Runner
from .store import Store, publish, remove
from .summary import IndexerError, Summary


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
        start = time.perf_counter()
        for root in roots:
            if not Path(root).is_dir():
                raise IndexerError(self._not_a_folder(root))
        name = self.model or _recorded_model(self.library, self.catalog_url) or hub.DEFAULT_MODEL
        folder = hub.resolve(name)  # before anything is made: no half-made library
        if self.library.exists() and not self.library.is_dir():
            raise IndexerError(f"{self.library} is a file; --library names a folder")
        self.library.mkdir(parents=True, exist_ok=True)
        with writer_lock(self.library, self.catalog_url):
            remove_leftovers(self.library)
            catalog = Catalog.open(self.library, self.catalog_url)
            publishing.reserve_ids(index_folder(self.library), catalog)
            decoder = self.decoder(folder, self.library)
            embedder = self.embedder(folder)
            self._check_model(catalog, name, folder, embedder, rebuild)
            plan = self.plan(catalog, [os.path.abspath(r) for r in roots], rebuild)
            summary = Summary(unchanged=plan.unchanged, offline=plan.unreachable, moved=plan.moved)
            todo = {e.path for e in plan.todo}
            summary.remade = [(p, why) for p, why in plan.damaged.items() if p in todo]
            store = Store(catalog, self.library, plan, summary, rebuild)
            done = 0
            for batch in self.embedded(plan.todo, plan.hashes, decoder, embedder, name, folder):
                store.copy_known(batch, decoder)
                embedder.embed(batch)  # the files copy_known had to decode again, if any
                store.add(batch)
                done += len(batch)
                progress(done, len(plan.todo))
                if stop is not None and stop.is_set():
                    summary.interrupted = True
                    break
            if not summary.interrupted:
                store.finish()
            publish(catalog, self.library)
        summary.seconds = time.perf_counter() - start
        summary.int8_cosine = embedder.int8_cosine
        return summary

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
            catalog = Catalog.open(self.library, self.catalog_url)
            gone = [p for p in catalog.known() if under(p, [os.path.abspath(folder)])]
            remove(catalog, self.library, gone, {}, rebuild=False)
            publish(catalog, self.library)
        return len(gone)

    def _not_a_folder(self, root) -> str:
        """What to say of a photo folder that is not there: how to forget its photos, if any."""
        try:
            known = Catalog.open(self.library, self.catalog_url, create=False).known()
        except CatalogError:
            known = {}
        held = sum(under(p, [os.path.abspath(root)]) for p in known)
        if not held:
            return f"{root} is not a folder"
        command = f"altclip-index --forget {shlex.quote(str(root))}"
        command += f" --library {shlex.quote(str(self.library))}"
        also = " with the same --catalog" if self.catalog_url else ""
        return (
            f"{root} is not a folder; the library holds {held} photos from it: to forget them, "
            f"run {command}{also}"
        )

    def _check_model(
        self, catalog: Catalog, name: str, folder: Path, embedder: Embedder, rebuild: bool
    ) -> None:
        """A model new to the library must load and embed an image first, so a damaged
        checkpoint changes nothing; one that differs from the library's needs `rebuild`."""
        fingerprint = hub.fingerprint(folder)
        recorded = catalog.model()
        if recorded is not None and recorded.fingerprint != fingerprint and not rebuild:
            raise IndexerError(
                f"this library was built with another model ({recorded.name}); index with that "
                "model, or re-embed every photo with this one: add --rebuild"
            )
        if recorded is not None and not rebuild:
            return
        dim = embedder.probe()
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
