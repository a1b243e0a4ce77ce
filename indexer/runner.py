"""How a run's files go through the stages, and with which settings: the stages made from the
Indexer's settings (plan, decode, embed) and `embedded`, the runner that drives files through
decode and embed in batches. Here: decoding in threads, embedding in the run's own Embedder;
distributed.RayIndexer runs the same stages on a Ray cluster. What becomes of the batches is the
caller's: the catalog's (run.py, through store.py) or Parquet shards' (exchange.py).
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from altclip_core.preprocess import MAX_FILE_MB, MAX_MEGAPIXELS
from search.catalog import Catalog
from search.library_folder import has_pictures

from .decode import Decoded, Decoder, decode_all
from .embed import Embedder
from .plan import Place, Plan, make_plan
from .reading import Reading
from .scan import Entry


@dataclass
class Runner:
    """The indexer's settings (the command line's options) and the stages made from them."""

    library: Path
    model: str | None = None  # None: the model the library records, else hub.DEFAULT_MODEL
    catalog_url: str | None = None
    exclude: list[str] = field(default_factory=list)
    include_hidden: bool = False
    max_megapixels: float = MAX_MEGAPIXELS
    max_file_mb: float = MAX_FILE_MB
    batch_size: int = 16  # files per decode window and per catalog transaction
    workers: int = os.cpu_count() or 2
    device: str | None = None
    exact_decode: bool = False  # True: full-size JPEG decoding (slower, bit-exact preprocessing)
    int8: bool = False  # int8 image tower on CPU, checked against the exact one on each run
    words: bool = True  # the words in photos read (indexer/reading.py); --no-words: not
    shard_rows: int = 100_000  # --export: rows per Parquet shard (300 MB of 768-d vectors)
    warn: Callable[[str], None] = print

    def plan(
        self,
        catalog: Catalog,
        roots: list[str],
        rebuild: bool,
        places: list[Place] | None = None,
        settled: Callable[[Entry], bool] | None = None,
    ) -> Plan:
        """Diff `places` (default: `roots`, walked whole) against the catalog (plan.py). A
        rebuild also takes in the library's photos outside them, so that none is lost."""
        rules = (self.exclude, self.include_hidden, self.warn)
        there = functools.partial(has_pictures, Path(self.library))  # pictures gone: made again
        return make_plan(catalog, roots, rebuild, *rules, places, settled, there)

    def decoder(self, folder: Path, pictures: Path) -> Decoder:
        """The decode stage for the model in `folder`, writing thumbnails into `pictures`."""
        return Decoder.for_model(
            folder, pictures, self.max_megapixels, self.max_file_mb, self.exact_decode
        )

    def embedder(self, folder: Path) -> Embedder:
        """The embed stage for the model in `folder`; it loads the model on first need."""
        return Embedder(folder, self.device, self.int8, self.warn)

    def reading(self) -> Reading | None:
        """The reading pass (indexer/reading.py) with the run's decode limits; None with the
        words off. Its reader is loaded only where a photo needs reading."""
        if not self.words:
            return None
        return Reading(Path(self.library), self.max_megapixels, self.max_file_mb)

    def embedded(
        self,
        todo: list[Entry],
        known: set[str],
        decoder: Decoder,
        embedder: Embedder,
        name: str,
        folder: Path,
    ) -> Iterator[list[Decoded]]:
        """The runner: `todo` decoded and embedded, in batches of at most `batch_size`, in any
        order. Files whose bytes are in `known` come back with `reuse` set and no vector (the
        store copies it). Here: decoding in threads, at most two batches ahead of the
        embedding, so that memory stays bounded whatever the folder holds."""
        size = self.batch_size
        for batch in _batched(decode_all(decoder, todo, known, self.workers, 2 * size), size):
            embedder.embed(batch)
            yield batch


def _batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(itertools.islice(it, n)):
        yield batch
