"""Folder in, library out, in four stages: plan (scan the folders and diff them against the
catalog), decode (a file in, pixels and facts out, in worker threads), embed (the image tower, in
batches) and store (one writer, a transaction per batch); then what disappeared is removed and,
when enough changed, a new vector index is published.

A kill at any moment loses at most the batch in flight: committed rows are unchanged files on the
next run, rows are keyed by path (no duplicates), and the vector index is derived from the catalog.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import shlex
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from altclip_core import hub
from altclip_core.errors import AltCLIPError, ImageError
from altclip_core.preprocess import MAX_FILE_MB, MAX_MEGAPIXELS, image_problem
from search import vector_index
from search.catalog import (
    ERROR,
    OK,
    Catalog,
    CatalogError,
    Known,
    Model,
    NoCatalog,
    Record,
    under,
)
from search.library import escaped
from search.library_folder import (
    PICTURES,
    PREVIEW_EDGE,
    THUMB_EDGE,
    drop_unused_pictures,
    index_folder,
    picture,
    recorded_name,
    remove_leftovers,
    temporary,
    writer_lock,
)

from .scan import Entry, scan

INT8_CHECKED = 4  # photos embedded both ways on the first batch


class IndexerError(AltCLIPError):
    """The run cannot start or finish; the message says what to do."""


@dataclass
class Summary:
    added: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    offline: int = 0  # in folders that could not be read: kept, not removed
    remade: list[tuple[str, str]] = field(default_factory=list)  # damaged rows, (path, why)
    seconds: float = 0.0
    interrupted: bool = False
    int8_cosine: float | None = None  # --int8: the self-check's minimum cosine to the exact model

    def count(self, d: Decoded, known: dict, moved_from: set[str] = frozenset()) -> None:
        """Count a stored file: added, updated (its path was `known`), moved (new path, bytes
        of a file gone) or failed."""
        kind = "updated" if d.entry.path in known else "added"
        if d.vector is None:
            kind = "failed"
        elif kind == "added" and d.sha256 in moved_from:
            kind = "moved"
        setattr(self, kind, getattr(self, kind) + 1)

    def __str__(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.moved} moved, "
            f"{self.removed} removed, "
            f"{self.failed} failed, {self.unchanged} unchanged in {self.seconds:.1f} s"
        )
        if self.offline:
            text += f"; {self.offline} kept from folders that could not be read"
        if self.remade:
            named = ", ".join(f"{escaped(p)} ({why})" for p, why in self.remade[:3])
            more = f" and {len(self.remade) - 3} more" if len(self.remade) > 3 else ""
            text += f"; {len(self.remade)} damaged row(s) made again: {named}{more}"
        if self.int8_cosine is not None:
            text += f"; int8 checked: minimum cosine {self.int8_cosine:.4f} to the exact model"
        return text + (" (interrupted: run again to finish)" if self.interrupted else "")


@dataclass
class Decoded:
    entry: Entry
    sha256: str | None = None
    pixels: np.ndarray | None = None  # [H, W, 3] uint8; None: failed, or a known file's copy
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    error: str | None = None
    reuse: bool = False  # the catalog already has a file with these bytes: copy its vector
    vector: bytes | None = None  # float32, set by Embedder.embed (or copied by copy_known)

    def record(self) -> Record:
        e = self.entry
        return Record(
            e.path,
            e.size,
            e.mtime_ns,
            self.sha256,
            self.width,
            self.height,
            self.taken_at,
            self.error,
            self.vector,
        )


@dataclass
class Plan:
    """What a run has to do: files to read, files gone, rows to mark out of reach (or back)."""

    todo: list[Entry]
    gone: list[str]
    offline: dict[str, bool]
    known: dict[str, Known]  # the rows under the run's folders
    hashes: set[str]  # contents the catalog already has a vector for
    unchanged: int
    unreachable: int  # photos in folders that could not be read: kept, not removed
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # sha256: paths outside
    moved: int = 0  # rows outside that a row here, stored by an earlier run, moved from
    damaged: dict[str, str] = field(default_factory=dict)  # path: what is wrong with its row

    def moved_in(self, d: Decoded) -> list[str]:
        """The paths outside the run's folders that `d`, a file new here, moved from (a renamed
        folder). Asked once per content."""
        if d.entry.path in self.known or d.sha256 is None:
            return []
        return [p for p in self.elsewhere.pop(d.sha256, []) if _moved(p, d.entry.path)]


def _moved(old: str, new: str) -> bool:
    """True where the file at `old` is gone (not out of reach: an unreadable or unmounted
    folder keeps its photos) and `new`, with its bytes, lies in the nearest folder above `old`
    that is still there: `~/P/trip/a.jpg` -> `~/P/trip-2023/a.jpg`, but not `/mnt/nas/a.jpg` ->
    `~/Pictures/a.jpg`, whose drive may only be unmounted."""
    try:
        os.lstat(old)
        return False
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        return False  # out of reach, not gone
    above = os.path.dirname(old)
    while not os.path.isdir(above) and above != os.path.dirname(above):
        above = os.path.dirname(above)
    return above != os.path.dirname(above) and under(new, [above])


@dataclass
class Indexer:
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
    shard_rows: int = 100_000  # --export: rows per Parquet shard (300 MB of 768-d vectors)
    warn: Callable[[str], None] = print

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
            vector_index.reserve_ids(index_folder(self.library), catalog)
            decoder = self.decoder(folder, self.library)
            embedder = Embedder(folder, self.device, self.int8, self.warn)
            self._check_model(catalog, name, folder, embedder, rebuild)
            plan = self.plan(catalog, [os.path.abspath(r) for r in roots], rebuild)
            summary = Summary(unchanged=plan.unchanged, offline=plan.unreachable, moved=plan.moved)
            todo = {e.path for e in plan.todo}
            summary.remade = [(p, why) for p, why in plan.damaged.items() if p in todo]
            moved_from = {plan.known[p].sha256 for p in plan.gone if p in plan.known}
            done = failed_moves = 0
            for batch in self.embedded(plan.todo, plan.hashes, decoder, embedder, name, folder):
                copy_known(catalog, batch, decoder, rebuild)
                embedder.embed(batch)  # the files copy_known had to decode again, if any
                catalog.store([d.record() for d in batch], rebuild)
                for d in batch:
                    if moved := plan.moved_in(d):
                        plan.gone += moved
                        moved_from.add(d.sha256)
                        failed_moves += len(moved) if d.vector is None else 0
                    summary.count(d, plan.known, moved_from)
                    if d.vector is not None:
                        plan.hashes.add(d.sha256)
                done += len(batch)
                progress(done, len(plan.todo))
                if stop is not None and stop.is_set():
                    summary.interrupted = True
                    break
            if not summary.interrupted:
                catalog.finish_run(plan.gone, plan.offline, rebuild)
                moves = summary.moved + failed_moves  # a move is not removal
                summary.removed = max(len(plan.gone) - moves, 0)
                drop_unused_pictures(self.library, catalog.hashes_in_use())
            vector_index.publish_if_stale(index_folder(self.library), catalog)
            catalog.make_durable()
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
        from .shards import Exported, Writer  # pyarrow: the [parquet] extra

        start = time.perf_counter()
        for root in roots:
            if not Path(root).is_dir():
                raise IndexerError(f"{root} is not a folder")
        name = self.model or hub.DEFAULT_MODEL
        model_folder = hub.resolve(name)
        shown = recorded_name(name, model_folder)
        folder.mkdir(parents=True, exist_ok=True)
        summary = Summary()
        with writer_lock(folder):
            remove_leftovers(folder)  # the pictures of a killed export
            for leftover in folder.glob(".*.parquet.tmp"):
                leftover.unlink(missing_ok=True)
            decoder = self.decoder(model_folder, folder)
            plan = self.plan(Exported(folder), [os.path.abspath(r) for r in roots], False)
            summary.unchanged = plan.unchanged
            writer = Writer(folder, shown, hub.fingerprint(model_folder), self.shard_rows)
            done = 0
            embedder = Embedder(model_folder, self.device, self.int8, self.warn)
            try:
                for batch in self.embedded(plan.todo, set(), decoder, embedder, name, model_folder):
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

    def forget(self, folder: Path) -> int:
        """Remove the library's photos under `folder` (a folder deleted, or no longer wanted);
        no file is touched. Returns how many."""
        Catalog.open(self.library, self.catalog_url, create=False)  # none: one line that says so
        self.library.mkdir(parents=True, exist_ok=True)  # a PostgreSQL library's, perhaps
        with writer_lock(self.library, self.catalog_url):
            catalog = Catalog.open(self.library, self.catalog_url)
            gone = [p for p in catalog.known() if under(p, [os.path.abspath(folder)])]
            catalog.finish_run(gone, {})
            drop_unused_pictures(self.library, catalog.hashes_in_use())
            vector_index.publish_if_stale(index_folder(self.library), catalog)
            catalog.make_durable()
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

    def decoder(self, folder: Path, pictures: Path) -> Decoder:
        """The decode stage for the model in `folder`, writing thumbnails into `pictures`."""
        from altclip_core.preprocess import ImagePreprocessor

        preprocess = ImagePreprocessor.from_folder(folder)
        draft_edge = None if self.exact_decode else max(_edge(preprocess), THUMB_EDGE)
        return Decoder(pictures, preprocess, self.max_megapixels, self.max_file_mb, draft_edge)

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
        store copies it). Here: decoding in threads, embedding in the run's `embedder`;
        distributed.RayIndexer runs the same stages on a Ray cluster."""
        size = self.batch_size
        for batch in _batched(decode_all(decoder, todo, known, self.workers, 2 * size), size):
            embedder.embed(batch)
            yield batch

    def plan(self, catalog: Catalog, roots: list[str], rebuild: bool) -> Plan:
        """Scan `roots` and diff them against the catalog. A rebuild also takes in the library's
        photos outside `roots`, so that none is lost."""
        rows = catalog.known(rebuild)
        hashes = {k.sha256 for k in rows.values() if k.status == OK}
        damaged = {} if rebuild else dict(catalog.damaged())
        # A rebuild's table holds this run's photos only; the library's hold other roots too.
        known, elsewhere, moved = rows, {}, []
        if not rebuild:
            known = {}
            for p, k in rows.items():
                if under(p, roots):
                    known[p] = k
                elif k.sha256 and not k.offline:
                    elsewhere.setdefault(k.sha256, []).append(p)
            for p, k in known.items():  # moved by an earlier run that was stopped
                moved += [o for o in elsewhere.pop(k.sha256, []) if _moved(o, p)]
        outside = catalog.paths_outside(roots) if rebuild else []
        todo, seen, unreadable, unchanged = [], set(), [], 0
        for entry in itertools.chain(
            scan(roots, self.exclude, self.include_hidden, self.warn, unreadable),
            _entries(outside),
        ):
            seen.add(entry.path)
            row = known.get(entry.path)
            if (
                row is not None
                and row.status == OK  # a file that failed is tried again
                and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns)
                and entry.path not in damaged  # made again from the photo
            ):
                unchanged += 1
            else:
                todo.append(entry)
        unseen = [p for p in known if p not in seen]
        gone = [p for p in unseen if not under(p, unreadable)]
        out_of_reach = set(unseen) - set(gone)
        offline = {p: p in out_of_reach for p in known if (p in out_of_reach) != known[p].offline}
        plan = Plan(todo, gone + moved, offline, known, hashes, unchanged, len(out_of_reach))
        plan.elsewhere, plan.moved, plan.damaged = elsewhere, len(moved), damaged
        return plan

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


def _recorded_model(library: Path, url: str | None) -> str | None:
    """The model an existing library was built with; None where there is no library yet (and
    none is made by asking)."""
    try:
        model = Catalog.open(library, url, create=False).model()
    except NoCatalog:
        return None  # a damaged one says so itself, rather than sending us to the hub
    return model.name if model is not None else None


def _entries(paths: list[str]) -> Iterator[Entry]:
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue  # gone: left out of the rebuilt library, as a run over its folder would
        yield Entry(path, st.st_size, st.st_mtime_ns)


def decode_all(
    decoder: Decoder, entries: list[Entry], known: set[str], workers: int, window: int
) -> Iterator[Decoded]:
    """Decoded entries in order, in `workers` threads, at most `window` ahead of the consumer."""
    with ThreadPoolExecutor(workers) as pool:
        it = iter(entries)
        pending = deque(pool.submit(decoder.decode, e, known) for e in _take(it, window))
        try:
            while pending:
                result = pending.popleft().result()
                pending.extend(pool.submit(decoder.decode, e, known) for e in _take(it, 1))
                yield result
        finally:
            for f in pending:
                f.cancel()


def copy_known(catalog: Catalog, batch: list[Decoded], decoder: Decoder, rebuild: bool) -> None:
    """The store's side of `reuse`: files whose bytes the catalog already has a vector for get
    a copy of it; where that copy went away meanwhile, the file is decoded after all."""
    for i, d in enumerate(batch):
        if d.reuse and d.vector is None:
            source = catalog.copy_of(d.sha256, rebuild)
            if source is None:
                batch[i] = decoder.decode(d.entry)
            else:
                d.width, d.height, d.taken_at = source.width, source.height, source.taken_at
                d.vector = source.embedding


@dataclass
class Decoder:
    """The decode stage: a file in, its hash, facts, pixels and pictures out. Plain data, so
    that Ray can send it to its workers; `pictures` is the folder thumbs/ and previews/ go in."""

    pictures: Path
    preprocess: object  # altclip_core.preprocess.ImagePreprocessor
    max_megapixels: float = MAX_MEGAPIXELS
    max_file_mb: float = MAX_FILE_MB
    draft_edge: int | None = None  # None: decode at full size

    def decode(self, entry: Entry, known: set[str] = frozenset()) -> Decoded:
        """One file -> its hash, facts, thumbnail and pixels, or the reason it failed. Memory is
        bounded by the limits whatever the file claims; the read ends whatever sits at the path."""
        from altclip_core.preprocess import check_size, draft, open_file, to_rgb

        d = Decoded(entry)
        try:
            with open_file(entry.path, self.max_file_mb) as f:
                d.sha256 = _sha256(f, self.max_file_mb)
                if d.sha256 in known:
                    d.reuse = True
                    return d
                f.seek(0)
                with Image.open(f) as image:
                    check_size(image, self.max_megapixels)
                    d.taken_at = _taken_at(image)
                    d.width, d.height = image.size
                    if image.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF: shown rotated 90°
                        d.width, d.height = d.height, d.width
                    if self.draft_edge:  # the short edge a preview of PREVIEW_EDGE needs
                        ratio = min(image.size) / max(image.size)
                        draft(image, max(self.draft_edge, round(PREVIEW_EDGE * ratio)))
                    image.load()
                    rgb = to_rgb(image)
            self._pictures(rgb, d.sha256)
            d.pixels = self.preprocess.cropped(rgb)
        except ImageError as e:
            d.error = str(e)
        except Exception as e:  # one bad file must never stop the run: record why and go on
            d.error = image_problem(e)
        return d

    def _pictures(self, rgb: Image.Image, sha: str) -> None:
        """The photo's thumbnail and preview, each no larger than the photo (never upscaled).
        Written under a name no other thread or machine uses, then renamed into place."""
        for kind, (edge, suffix, quality) in PICTURES.items():
            path = picture(self.pictures, kind, sha)
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            small = rgb.copy()
            small.thumbnail((edge, edge), Image.BICUBIC)
            tmp = temporary(path)
            small.save(tmp, "WEBP" if suffix == "webp" else "JPEG", quality=quality)
            os.replace(tmp, path)


class Embedder:
    """The embed stage: the image tower, loaded on first need, on `device` (default: the
    fastest there is). On CUDA it runs in the model's default dtype (bf16, else fp16), takes
    its pixels from pinned host memory with non-blocking copies, and cuts what it is given into
    batches sized to the card's free memory (`cuda_batch`)."""

    def __init__(
        self,
        folder: Path,
        device: str | None = None,
        int8: bool = False,
        warn: Callable[[str], None] = print,
    ):
        self.folder, self.device, self.warn, self.model = folder, device, warn, None
        self.check_int8, self.int8_cosine = int8, None
        self.batch: int | None = None  # rows per forward pass; None: all it is given (CPU)

    def probe(self) -> int:
        """Load the model and embed one image; its dimension. A model that cannot (a damaged or
        truncated checkpoint) is an IndexerError, raised before the library is changed."""
        import torch

        try:
            grey = Image.new("RGB", (256, 256), "grey")
            pixels = torch.from_numpy(self.preprocess.one(grey))
            vector = self._model().encode_image(pixels[None])
            if not torch.isfinite(vector).all():
                raise ValueError("it embeds an image as NaN or infinity")
        except AltCLIPError:
            raise
        except Exception as e:
            raise _unusable(self.folder, e) from None
        return vector.shape[-1]

    def embed(self, batch: list[Decoded]) -> None:
        """Set the `vector` of each decoded file that has pixels (and drop the pixels);
        identical files in the batch are computed once."""
        fresh: dict[str, Decoded] = {}
        for d in batch:
            if d.pixels is not None:
                fresh.setdefault(d.sha256, d)
        if fresh:
            import torch

            normalise = self.preprocess.normalise
            pixels = torch.from_numpy(np.stack([normalise(d.pixels) for d in fresh.values()]))
            if self.check_int8:
                self._to_int8(pixels[:INT8_CHECKED])
            vectors = self.encode(pixels)
            for d, v in zip(fresh.values(), vectors, strict=True):
                d.vector = v.tobytes()
        for d in batch:
            if d.pixels is not None:
                d.vector, d.pixels = fresh[d.sha256].vector, None

    def encode(self, pixels) -> np.ndarray:
        """Pixels [N, 3, H, W] float32 on the CPU -> [N, dim] float32 numpy."""
        import torch

        model = self._model()
        if model.device.type != "cuda":
            with torch.inference_mode():
                return model.encode_image(pixels).cpu().numpy()
        if self.batch is None:
            free, _ = torch.cuda.mem_get_info(model.device)
            self.batch = cuda_batch(free, model.config.vision_config, model.dtype.itemsize)
        out = []
        with torch.inference_mode():
            for chunk in pixels.split(self.batch):
                # From pinned pages the copy is one DMA transfer; .cpu() then waits for the
                # result, so copies and compute do not overlap yet (unmeasured: no GPU here).
                x = chunk.pin_memory().to(model.device, non_blocking=True)
                out.append(model.encode_image(x).cpu())
        return torch.cat(out).numpy()

    @functools.cached_property
    def preprocess(self):
        from altclip_core.preprocess import ImagePreprocessor

        return ImagePreprocessor.from_folder(self.folder)

    def _model(self, quantize: str | None = None):
        if self.model is None or quantize:
            import altclip_core

            try:
                model = altclip_core.load(
                    self.folder, device=self.device, towers=("vision",), quantize=quantize
                )
            except AltCLIPError:
                raise
            except Exception as e:  # a damaged weights file raises whatever its reader raises
                raise _unusable(self.folder, e) from None
            if quantize:
                return model
            self.model = model
        return self.model

    def _to_int8(self, pixels) -> None:
        """Switch to the int8 model if it embeds these photos within kernels.INT8_MIN_COSINE of
        the exact one: int8 error depends on the weights, which random test weights cannot tell."""
        from altclip_core.kernels import INT8_MIN_COSINE

        self.check_int8 = False
        try:
            int8 = self._model("int8")
        except ValueError as e:  # not on CPU
            self.warn(f"--int8 is ignored: {e}")
            return
        exact = self._model().encode_image(pixels)
        cosine = self.int8_cosine = float((exact * int8.encode_image(pixels)).sum(-1).min())
        if cosine < INT8_MIN_COSINE:
            self.warn(
                f"int8 moves this model's embeddings too far (minimum cosine {cosine:.4f} < "
                f"{INT8_MIN_COSINE} on {len(pixels)} photos): indexing with the exact model"
            )
        else:
            self.model = int8


def cuda_batch(free_bytes: int, vision, itemsize: int, most: int = 1024) -> int:
    """Images per forward pass that fit a quarter of the card's free memory: a power of two,
    from 8 to `most`. Inference keeps one layer's activations alive at a time; with the MLP's
    4x widening and the attention's q, k, v and output, ~12 numbers per token and channel
    (flash attention: no tokens x tokens matrix). ViT-L/14 at 224 px in bf16: 6.3 MB an image.
    Larger batches stop paying once the card is busy; `most` keeps the latency of one batch
    (and what a kill loses) small."""
    tokens = (vision.image_size // vision.patch_size) ** 2 + 1
    per_image = 12 * tokens * vision.hidden_size * itemsize
    fits = max(free_bytes // 4 // per_image, 1)
    return max(8, min(most, 1 << (int(fits).bit_length() - 1)))


def _take(it: Iterator, n: int) -> list:
    return list(itertools.islice(it, n))


def _batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while batch := _take(it, n):
        yield batch


def _edge(pre) -> int:
    return pre.shortest_edge or max(pre.size or pre.crop or (224, 224))


def _unusable(folder: Path, e: Exception) -> IndexerError:
    return IndexerError(
        f"the model in {folder} cannot embed images ({image_problem(e)}); the library is "
        "unchanged: copy the model folder again, or name another with --model"
    )


def _sha256(f, max_file_mb: float) -> str:
    """The file's hash, read in chunks up to the limit (the file may grow while it is read)."""
    digest, size = hashlib.sha256(), 0
    while chunk := f.read(1 << 20):
        size += len(chunk)
        if size > max_file_mb * 2**20:
            raise ImageError(f"the file grew past the limit of {max_file_mb:g} MB while read")
        digest.update(chunk)
    if not size:
        raise ImageError("empty file")
    return digest.hexdigest()


def _taken_at(image: Image.Image) -> datetime | None:
    exif = image.getexif()
    value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, DateTime
    try:
        return datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
