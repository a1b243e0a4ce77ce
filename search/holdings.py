"""What a library holds now: its vector index as the catalog is now (another process may be
indexing), its counts, and its folders; each read again only when the catalog has changed."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from search.catalog import ERROR, OK, Catalog
from search.hits import Status
from search.library_folder import index_folder
from search.vector_index import VectorIndex, refreshed


class Holdings:
    """The library in `folder` with `catalog`, as it is now. `on_new_base()` is called when the
    index opens a base it did not have before (the first, or one a rebuild published)."""

    def __init__(self, folder: Path, catalog: Catalog, on_new_base: Callable[[], None]):
        self.folder, self.catalog, self.on_new_base = folder, catalog, on_new_base
        self._index: VectorIndex | None = None
        self._status: tuple[int, Status] | None = None
        self._folders: tuple[int, list[str]] | None = None
        self._index_lock = threading.Lock()  # one index at a time, however many threads ask

    def index(self) -> VectorIndex:
        """The vector index of the catalog as it is now: the newest base the indexer published,
        plus what changed since. Writes nothing."""
        current = self._index
        index = refreshed(current, index_folder(self.folder), self.catalog)  # outside the lock: a
        # new base takes seconds to check, and searches go on with the current index meanwhile
        with self._index_lock:
            if self._index is current:
                if current is None or index.floor != current.floor:
                    self.on_new_base()
                self._index = index
            return self._index

    def status(self, model_name: str) -> Status:
        """Counts and last indexing time, recounted only when the catalog has changed, not on
        each page refresh (~60 ms at a million photos)."""
        generation = self.catalog.generation()
        if self._status is None or self._status[0] != generation:
            n = self.catalog.counts()
            status = Status(n[OK], n[ERROR], model_name, self.catalog.last_indexed())
            self._status = generation, status
        return self._status[1]

    def folders(self) -> list[str]:
        """Every folder that holds photos, and the folders above them up to the one they all
        share, sorted. Re-read only when the catalog has changed."""
        generation = self.catalog.generation()
        if self._folders is None or self._folders[0] != generation:
            held = self.catalog.folders()
            top = os.path.dirname(os.path.commonpath(held)) if held else ""
            found = set()
            for folder in held:
                while folder not in found and len(folder) > len(top):
                    found.add(folder)
                    folder = os.path.dirname(folder)
            self._folders = generation, sorted(found)
        return self._folders[1]
