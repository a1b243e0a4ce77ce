"""Folder in, library out: scan, diff against the catalog, decode in worker threads, embed in
batches, commit each batch in its own transaction, then remove what disappeared and refresh the
vector index.

A kill at any moment loses at most the batch in flight: committed rows are unchanged files on the
next run, rows are keyed by path (no duplicates), and the vector index is derived from the catalog.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import itertools
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from altclip_core import hub
from altclip_core.config import AltCLIPConfig
from altclip_core.errors import AltCLIPError
from search import catalog
from search.catalog import ERROR, OK, ModelInfo, Photo
from search.index import refresh_index

from .scan import Entry, scan

THUMB_EDGE = 256


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
    seconds: float = 0.0
    interrupted: bool = False

    def __str__(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.moved} moved, "
            f"{self.removed} removed, "
            f"{self.failed} failed, {self.unchanged} unchanged in {self.seconds:.1f} s"
        )
        return text + (" (interrupted: run again to finish)" if self.interrupted else "")


@dataclass
class Decoded:
    entry: Entry
    sha256: str | None = None
    pixels: np.ndarray | None = None  # None: failed, or a copy of a known file (reuse)
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    error: str | None = None
    reuse: bool = False  # the catalog already has a file with these bytes: copy its vector
    vector: bytes | None = None  # float32, set by _Embedder.embed


@dataclass
class Indexer:
    library: Path
    model: str = hub.DEFAULT_MODEL
    catalog_url: str | None = None
    exclude: list[str] = field(default_factory=list)
    include_hidden: bool = False
    max_megapixels: float = 100.0
    batch_size: int = 16
    workers: int = os.cpu_count() or 2
    device: str | None = None
    exact_decode: bool = False  # True: full-size JPEG decoding (slower, bit-exact preprocessing)
    warn: Callable[[str], None] = print

    def run(
        self,
        roots: list[Path],
        rebuild: bool = False,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> Summary:
        """Index `roots` into the library. `stop` ends the run cleanly after the current batch."""
        start, summary = time.perf_counter(), Summary()
        for root in roots:
            if not Path(root).is_dir():
                raise IndexerError(f"{root} is not a folder")
        self.library.mkdir(parents=True, exist_ok=True)
        # Pillow refuses images over twice this at open (decompression bombs); _Embedder.decode
        # refuses anything over it, with a message naming the option.
        Image.MAX_IMAGE_PIXELS = int(self.max_megapixels * 1e6)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with _lock(self.library):
            engine = catalog.connect(catalog.catalog_url(self.library, self.catalog_url))
            folder = hub.resolve(self.model)
            self._check_model(engine, folder, rebuild)
            roots = [os.path.abspath(r) for r in roots]
            with Session(engine) as s:
                rows = s.execute(select(Photo.path, Photo.size, Photo.mtime_ns, Photo.sha256)).all()
                known = set(s.scalars(select(Photo.sha256).where(Photo.status == OK)))
            existing = {r.path: r for r in rows if _under(r.path, roots)}

            todo, seen = [], set()
            for entry in scan(roots, self.exclude, self.include_hidden, self.warn):
                seen.add(entry.path)
                row = existing.get(entry.path)
                if row is not None and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns):
                    summary.unchanged += 1
                else:
                    todo.append(entry)
            gone = [p for p in existing if p not in seen]
            gone_sha = {existing[p].sha256 for p in gone}

            embedder = _Embedder(self, folder)
            done = 0
            for batch in _batched(embedder.decode_all(todo, known), self.batch_size):
                with Session(engine) as s, s.begin():
                    embedder.embed(s, batch)
                    for d in batch:
                        kind = self._store(s, d, existing)
                        if kind == "added" and d.sha256 in gone_sha:
                            kind = "moved"
                        setattr(summary, kind, getattr(summary, kind) + 1)
                        if d.vector is not None:
                            known.add(d.sha256)
                    catalog.bump_generation(s)
                done += len(batch)
                progress(done, len(todo))
                if stop is not None and stop.is_set():
                    summary.interrupted = True
                    break

            if not summary.interrupted and gone:
                with Session(engine) as s, s.begin():
                    for i in range(0, len(gone), 500):
                        s.execute(delete(Photo).where(Photo.path.in_(gone[i : i + 500])))
                    catalog.bump_generation(s)
                summary.removed = max(len(gone) - summary.moved, 0)  # a move is not a removal
            refresh_index(engine, self.library)
            if not summary.interrupted:
                _drop_unused_thumbnails(engine, self.library)
        summary.seconds = time.perf_counter() - start
        return summary

    def _check_model(self, engine, folder: Path, rebuild: bool) -> None:
        fingerprint = hub.fingerprint(folder)
        dim = AltCLIPConfig.from_file(folder / "config.json").projection_dim
        with Session(engine) as s, s.begin():
            info = catalog.model_info(s)
            if info is not None and info.fingerprint != fingerprint and not rebuild:
                raise IndexerError(
                    f"this library was built with another model ({info.name}); index with that "
                    "model, or re-embed every photo with this one: add --rebuild"
                )
            if rebuild or info is None:
                s.execute(delete(Photo))
                s.execute(delete(ModelInfo))
                # A local folder is recorded absolute, so searches from any directory find it.
                local = Path(self.model).expanduser().is_dir()
                name = str(folder.resolve()) if local else str(self.model)
                s.add(ModelInfo(name=name, fingerprint=fingerprint, dim=dim))
                catalog.bump_generation(s)

    def _store(self, s: Session, d: Decoded, existing: dict) -> str:
        """Write one file's row; returns which summary count it adds to."""
        row = s.scalars(select(Photo).where(Photo.path == d.entry.path)).first()
        kind = "updated" if d.entry.path in existing else "added"
        if row is None:
            row = Photo(path=d.entry.path)
            s.add(row)
        row.size, row.mtime_ns, row.sha256 = d.entry.size, d.entry.mtime_ns, d.sha256
        row.width, row.height, row.taken_at = d.width, d.height, d.taken_at
        ok = d.vector is not None
        row.status, row.error, row.embedding = (
            (OK, None, d.vector) if ok else (ERROR, d.error, None)
        )
        row.indexed_at = time.time()
        return kind if ok else "failed"


class _Embedder:
    """Decoding in worker threads, the model loaded on first need."""

    def __init__(self, options: Indexer, folder: Path):
        from altclip_core.preprocess import ImagePreprocessor

        self.options, self.folder, self.model = options, folder, None
        pre = folder / "preprocessor_config.json"
        self.preprocess = ImagePreprocessor.from_file(pre) if pre.is_file() else ImagePreprocessor()
        self.thumbs = options.library / "thumbs"
        self.draft_edge = None if options.exact_decode else max(_edge(self.preprocess), THUMB_EDGE)

    def decode_all(self, entries: list[Entry], known: set[str]) -> Iterator[Decoded]:
        """Decoded entries in order, at most a few batches ahead of the consumer."""
        window = 2 * self.options.batch_size
        with ThreadPoolExecutor(self.options.workers) as pool:
            it = iter(entries)
            pending = deque(pool.submit(self.decode, e, known) for e in _take(it, window))
            try:
                while pending:
                    result = pending.popleft().result()
                    pending.extend(pool.submit(self.decode, e, known) for e in _take(it, 1))
                    yield result
            finally:
                for f in pending:
                    f.cancel()

    def decode(self, entry: Entry, known: set[str] = frozenset()) -> Decoded:
        from altclip_core.preprocess import draft, to_rgb

        d = Decoded(entry)
        try:
            data = Path(entry.path).read_bytes()
            if not data:
                d.error = "empty file"
                return d
            d.sha256 = hashlib.sha256(data).hexdigest()
            if d.sha256 in known:
                d.reuse = True
                return d
            with Image.open(io.BytesIO(data)) as image:
                megapixels = image.width * image.height / 1e6
                if megapixels > self.options.max_megapixels:
                    d.error = (
                        f"{image.width}x{image.height} is {megapixels:.0f} megapixels, over the "
                        f"limit of {self.options.max_megapixels:g}: raise it with --max-megapixels"
                    )
                    return d
                d.taken_at = _taken_at(image)
                d.width, d.height = image.size
                if image.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF says: shown rotated 90°
                    d.width, d.height = d.height, d.width
                if self.draft_edge:
                    draft(image, self.draft_edge)
                image.load()
                rgb = to_rgb(image)
            self._thumbnail(rgb, d.sha256)
            d.pixels = self.preprocess.one(rgb)
        except Exception as e:  # one bad file must never stop the run: record why and go on
            d.error = _reason(e)
        return d

    def embed(self, s: Session, batch: list[Decoded]) -> None:
        """Set each decoded file's `vector`: files already in the catalog are copied from it,
        identical files in the batch are computed once."""
        for i, d in enumerate(batch):
            if d.reuse:
                query = select(Photo).where(Photo.sha256 == d.sha256, Photo.status == OK)
                source = s.scalars(query).first()
                if source is None:  # the known copy went away meanwhile: decode after all
                    batch[i] = self.decode(d.entry)
                else:
                    d.width, d.height, d.taken_at = source.width, source.height, source.taken_at
                    d.vector = source.embedding
        fresh: dict[str, Decoded] = {}
        for d in batch:
            if d.pixels is not None:
                fresh.setdefault(d.sha256, d)
        if fresh:
            import torch

            pixels = torch.from_numpy(np.stack([d.pixels for d in fresh.values()]))
            vectors = self._model().encode_image(pixels).cpu().numpy()
            for d, v in zip(fresh.values(), vectors, strict=True):
                d.vector = v.tobytes()
        for d in batch:
            if d.pixels is not None:
                d.vector, d.pixels = fresh[d.sha256].vector, None

    def _model(self):
        if self.model is None:
            import altclip_core

            self.model = altclip_core.load(
                self.folder, device=self.options.device, towers=("vision",)
            )
        return self.model

    def _thumbnail(self, rgb: Image.Image, sha: str) -> None:
        path = self.thumbs / sha[:2] / f"{sha}.webp"
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        thumb = rgb.copy()
        thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.BICUBIC)
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        thumb.save(tmp, "WEBP", quality=80)
        os.replace(tmp, path)


def _drop_unused_thumbnails(engine, library: Path) -> None:
    with Session(engine) as s:
        used = set(s.scalars(select(Photo.sha256).where(Photo.status == OK)))
    for path in (library / "thumbs").glob("*/*.webp"):
        if path.stem not in used:
            path.unlink(missing_ok=True)


class _lock:
    """One indexer per library: an exclusive, non-blocking lock on `indexer.lock`."""

    def __init__(self, library: Path):
        self.path = library / "indexer.lock"

    def __enter__(self):
        self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise IndexerError(
                f"another altclip-index is writing to {self.path.parent}; wait for it to finish"
            ) from None
        return self

    def __exit__(self, *exc):
        self.file.close()


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _take(it: Iterator, n: int) -> list:
    return list(itertools.islice(it, n))


def _batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while batch := _take(it, n):
        yield batch


def _edge(pre) -> int:
    return pre.shortest_edge or max(pre.size or pre.crop or (224, 224))


def _reason(e: Exception) -> str:
    if isinstance(e, Image.DecompressionBombError):
        return f"{e}: raise the limit with --max-megapixels if the image is genuine"
    if isinstance(e, UnidentifiedImageError):
        return "not an image, or a format Pillow cannot read"
    if isinstance(e, OSError) and not isinstance(e, FileNotFoundError) and "truncated" in str(e):
        return f"truncated or corrupt: {e}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _taken_at(image: Image.Image) -> datetime | None:
    exif = image.getexif()
    value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, DateTime
    try:
        return datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
