"""The decode stage: a photo file in; its sha256, facts (size as shown, EXIF date), thumbnail,
preview and preprocessed pixels out, or the reason it failed.

What it guarantees:
- Bounded memory whatever the file claims: the bytes read stop at --max-file-mb (a file that grows
  while it is read included), the pixels at --max-megapixels, and a JPEG is decoded no larger than
  the model's input and the preview need (`draft_edge`; --exact-decode: full size).
- The read ends whatever sits at the path: a FIFO, a device or a file swapped for one meanwhile
  (`altclip_core.preprocess.open_file`).
- One bad file never stops a run: whatever goes wrong is that file's `error`, and the run goes on.
- Pictures are written under a name no other thread or machine uses, then renamed into place: a
  kill leaves no half-written thumbnail, only a temporary file the next run removes.
- A file whose bytes the library already holds is hashed, not decoded (`reuse`: the store copies
  its vector).
- The Decoder is plain data, so that Ray can send it to its workers (indexer/distributed.py).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from altclip_core.errors import ImageError
from altclip_core.preprocess import (
    MAX_FILE_MB,
    MAX_MEGAPIXELS,
    ImagePreprocessor,
    check_size,
    draft,
    image_problem,
    open_file,
    to_rgb,
)
from search.catalog import Record
from search.library_folder import (
    PICTURES,
    PREVIEW_EDGE,
    THUMB_EDGE,
    has_pictures,
    picture,
    temporary,
)

from .errors import IndexerError
from .scan import Entry


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
    vector: bytes | None = None  # float32, set by Embedder.embed (or copied by Store.copy_known)

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
class Decoder:
    """A file in, its hash, facts, pixels and pictures out; `pictures` is the folder thumbs/ and
    previews/ go in."""

    pictures: Path
    preprocess: ImagePreprocessor
    max_megapixels: float = MAX_MEGAPIXELS
    max_file_mb: float = MAX_FILE_MB
    draft_edge: int | None = None  # None: decode at full size

    @classmethod
    def for_model(
        cls,
        folder: Path,
        pictures: Path,
        max_megapixels: float = MAX_MEGAPIXELS,
        max_file_mb: float = MAX_FILE_MB,
        exact: bool = False,
    ) -> Decoder:
        """The decode stage for the model in `folder`, writing pictures into `pictures`.

        Args:
            exact: decode JPEGs at full size (slower, bit-exact preprocessing) instead of no
                larger than the model's input and the thumbnail need.
        """
        preprocess = ImagePreprocessor.from_folder(folder)
        draft_edge = None if exact else max(_edge(preprocess), THUMB_EDGE)
        return cls(pictures, preprocess, max_megapixels, max_file_mb, draft_edge)

    def decode(self, entry: Entry, known: set[str] = frozenset()) -> Decoded:
        """One file -> its hash, facts, thumbnail and pixels, or the reason it failed. Memory is
        bounded by the limits whatever the file claims; the read ends whatever sits at the path.
        A file whose hash is in `known` comes back with `reuse` set, undecoded."""
        d = Decoded(entry)
        try:
            with open_file(entry.path, self.max_file_mb) as f:
                d.sha256 = _sha256(f, self.max_file_mb)
                d.reuse = d.sha256 in known
                if d.reuse and has_pictures(self.pictures, d.sha256):
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
            if not d.reuse:  # else decoded for its pictures alone: its vector is copied
                d.pixels = self.preprocess.cropped(rgb)
        except ImageError as e:
            d.error = str(e)
        except IndexerError:
            raise
        except Exception as e:  # one bad file must never stop the run: record why and go on
            d.error = image_problem(e)
        return d

    def _pictures(self, rgb: Image.Image, sha: str) -> None:
        """The photo's thumbnail and preview, each no larger than the photo (never upscaled).
        Written under a name no other thread or machine uses, then renamed into place."""
        for kind, (edge, suffix, quality) in PICTURES.items():
            path = picture(self.pictures, kind, sha)
            if path.is_file() and path.stat().st_size:  # an empty one is made again
                continue
            small = rgb.copy()
            small.thumbnail((edge, edge), Image.BICUBIC)
            fmt = "WEBP" if suffix == "webp" else "JPEG"
            place(self.pictures, path, functools.partial(small.save, format=fmt, quality=quality))


def place(pictures: Path, path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` beside `path` (a picture under the library's `pictures`), then renamed onto
    it. Where the library's disk cannot take it (full, over its quota, read-only), the run stops
    in one line, an IndexerError: so would every next photo, each recorded as failed."""
    tmp = temporary(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise IndexerError(
                f"cannot write into {pictures} ({os.strerror(e.errno)}): free space there, or "
                "make it writable, and run again (a stopped run finishes where it stopped)"
            ) from None
        raise


def decode_all(
    decoder: Decoder, entries: list[Entry], known: set[str], workers: int, window: int
) -> Iterator[Decoded]:
    """Decoded entries in order, in `workers` threads, at most `window` ahead of the consumer
    (memory: `window` photos' pixels, whatever the folder holds)."""
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


def _take(it: Iterator, n: int) -> list:
    return list(itertools.islice(it, n))


def _edge(pre: ImagePreprocessor) -> int:
    return pre.shortest_edge or max(pre.size or pre.crop or (224, 224))


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
    """When the photo was taken, as the camera wrote it (EXIF DateTimeOriginal, else DateTime;
    no time zone); None where it wrote none that parses."""
    exif = image.getexif()
    value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, DateTime
    try:
        return datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
