"""The store stage: what a run writes to the catalog, counted into its Summary, and how it ends.

What it guarantees:
- One writer: the caller holds the library's writer lock (search/library_folder.py) for as long
  as it stores.
- A kill at any moment loses at most the batch in flight: each batch is one transaction, rows
  are keyed by path (a rerun finds the committed ones unchanged, and stores no duplicate), and
  the vector index is derived from the catalog (pictures no row uses are dropped when a run
  finishes; the temporary files of a killed one are removed as leftovers).
- A file whose bytes the library already holds gets a copy of that vector, not a second pass
  through the tower (`copy_known`).
- Removals wait for a run's last batch: a photo that moved into a folder stored later keeps its
  old row (its id, its place in the index) until its new one is stored; a stopped run removes
  nothing. A move is counted as moved, not as removed and added.
- Durable before it reports (`publish`): every write folded into the catalog's main file and
  read back, a new vector index published where enough changed, and the groups of copies
  brought up to the catalog (search/copies.py: a kill, then the rerun, gives the groups an
  uninterrupted run gives).
"""

from __future__ import annotations

import threading
from pathlib import Path

from search import copies, publishing
from search.catalog import Catalog
from search.images import stored_picture
from search.library_folder import drop_unused_pictures, index_folder
from search.vector_index import VectorIndex, refreshed

from .decode import Decoded, Decoder
from .plan import Plan
from .reading import Reading
from .summary import Summary


class Store:
    """A run's writes to `catalog` (a rebuild's: to the table beside the library), batch by
    batch, counted into `summary`."""

    def __init__(
        self, catalog: Catalog, library: Path, plan: Plan, summary: Summary, rebuild: bool
    ):
        self.catalog, self.library, self.plan = catalog, library, plan
        self.summary, self.rebuild = summary, rebuild
        self.moved_from = {plan.known[p].sha256 for p in plan.gone if p in plan.known}
        self.failed_moves = 0  # rows moved whose new file failed: neither moved nor removed

    def copy_known(self, batch: list[Decoded], decoder: Decoder) -> None:
        """The store's side of `reuse`: files whose bytes the catalog already has a vector for
        get a copy of it; where that copy went away meanwhile, the file is decoded after all
        (and left for the embedder)."""
        for i, d in enumerate(batch):
            if d.reuse and d.vector is None:
                source = self.catalog.copy_of(d.sha256, self.rebuild)
                if source is None:
                    batch[i] = decoder.decode(d.entry)
                else:
                    d.width, d.height, d.taken_at = source.width, source.height, source.taken_at
                    d.vector = source.embedding

    def add(self, batch: list[Decoded]) -> None:
        """Store an embedded batch in one transaction, and count it: added, updated, moved (a
        file new here whose bytes left a folder now gone: its old row goes at the end) or
        failed. Its contents are known from now on: a copy later in the run is copied."""
        self.catalog.store([d.record() for d in batch], self.rebuild)
        plan = self.plan
        for d in batch:
            if moved := plan.moved_in(d.entry.path, d.sha256):
                plan.gone += moved
                self.moved_from.add(d.sha256)
                self.failed_moves += len(moved) if d.vector is None else 0
            self.summary.count(d, plan.known, self.moved_from)
            if d.vector is not None:
                plan.hashes.add(d.sha256)

    def finish(self) -> None:
        """After the run's last batch: the files gone removed, those out of reach marked (a
        rebuild's table replaces the library's), and pictures no photo uses any more dropped."""
        remove(self.catalog, self.library, self.plan.gone, self.plan.offline, self.rebuild)
        moves = self.summary.moved + self.failed_moves  # a move is not removal
        self.summary.removed = max(len(self.plan.gone) - moves, 0)


def remove(
    catalog: Catalog, library: Path, gone: list[str], offline: dict[str, bool], rebuild: bool
) -> None:
    """Forget the photos at `gone`, mark those in `offline` out of reach (or back), in one
    transaction (a rebuild's also switches the tables), then drop the pictures no photo uses."""
    catalog.finish_run(gone, offline, rebuild)
    drop_unused_pictures(library, catalog.hashes_in_use())


def publish(
    catalog: Catalog,
    library: Path,
    reading: Reading | None = None,
    index: VectorIndex | None = None,
    stop: threading.Event | None = None,
) -> VectorIndex | None:
    """The end of every run that wrote: a new vector index where enough changed since the last
    (stamped with the catalog it came from), the groups of copies brought up to the catalog
    (search/copies.py: the photos changed placed, a block per transaction), and every write
    folded into the catalog's main file and read back, so that the run reports only rows that
    are there. Before that, with `reading`, the photos not read yet are read (indexer/reading.py),
    and the words of photos removed or changed are dropped.

    `index`: the vector index the last call returned (a watcher's last round), caught up with
    the catalog rather than loaded again. `stop` ends the reading after the batch in flight (the
    next run reads the rest). Returns the catalog's vector index where one was
    opened (else None), for the next call."""
    if reading is not None:  # first: a photo moved gets the words its old row still holds
        reading.run(catalog, stop)
    catalog.drop_stale_words()
    folder = index_folder(library)
    if index is not None:
        index = refreshed(index, folder, catalog)
    if publishing.stale(folder, catalog, index):
        publishing.publish(folder, catalog)
        index = None
    held = [index]

    def opened() -> VectorIndex:
        if held[0] is None:
            held[0] = VectorIndex.open(folder, catalog)
        return held[0]

    copies.regroup(catalog, opened, lambda sha: stored_picture(library, sha, "thumbs"))
    catalog.make_durable()
    return held[0]
