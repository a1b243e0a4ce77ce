"""Pictures a search reads: a query image (a path, a file's bytes or a PIL image) and a
catalogued photo, read as the indexer reads them (bounded whatever the file claims, never
blocking on what sits at a path), and the thumbnails and previews the indexer made. An image that
cannot be read is an UnreadableImage that says why, without echoing the image."""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from pathlib import Path

from PIL import Image

from altclip_core.errors import ImageError, OverLimit
from altclip_core.preprocess import check_size, image_extensions, open_file, open_image
from search.catalog import SHA256
from search.hits import UnreadableImage
from search.library_folder import picture

QueryImage = str | Path | bytes | Image.Image


@functools.cache
def image_types() -> list[str]:
    """The extensions a query image may have here, as the indexer reads them ("jpg", ...)."""
    return sorted(e.lstrip(".") for e in image_extensions())


def read_query(
    image: QueryImage, max_megapixels: float, max_file_mb: float
) -> tuple[Image.Image, str | None]:
    """The query image, read within the limits, and the sha256 of its bytes (None for a PIL
    image): a file is read once, as the indexer reads it (bounded, never blocking)."""
    shown = f"{image}" if isinstance(image, (str, Path)) else "the image"
    try:
        if isinstance(image, Image.Image):
            check_size(image, max_megapixels)
            return image, None
        if isinstance(image, (str, Path)):
            with open_file(image, max_file_mb) as f:
                image = f.read()
        data = bytes(image)
        return open_image(data, None, max_megapixels, max_file_mb), sha256(data)
    except ImageError as e:
        raise _unreadable(shown, e) from None


def as_seen(
    image: str | Path | bytes, edge: int, max_megapixels: float, max_file_mb: float
) -> Image.Image:
    """A query image as a person sees it: upright RGB, at most `edge` on its longer side."""
    shown = f"{image}" if isinstance(image, (str, Path)) else "the image"
    try:
        found = open_image(image, edge, max_megapixels, max_file_mb)
    except ImageError as e:
        raise _unreadable(shown, e) from None
    found.thumbnail((edge, edge), Image.BICUBIC)
    return found


def _unreadable(shown: str, e: ImageError) -> UnreadableImage:
    """Why a query image cannot be read: a limit said without the indexer's flags, which are no
    help to a search."""
    why = f"{e.what}: use a smaller copy" if isinstance(e, OverLimit) else str(e)
    return UnreadableImage(f"{shown} cannot be read: {why}")


def read_photo(path: str, edge: int, max_megapixels: float, max_file_mb: float) -> Image.Image:
    """A catalogued photo, upright RGB, at most `edge` on its longer side: read as the indexer
    reads it, since what sits at the path may have changed since it was indexed."""
    try:
        image = open_image(path, edge, max_megapixels, max_file_mb)
    except ImageError as e:
        raise UnreadableImage(f"the photo cannot be read now: {e}") from None
    image.thumbnail((edge, edge), Image.BICUBIC)
    return image


def stored_picture(folder: Path, sha256: str | None, kind: str) -> Path | None:
    """A picture the indexer made of the photo with this sha256 (`kind`: "thumbs" or
    "previews"), or None. The name comes from the sha256 only when it is one (64 hex digits), so
    a crafted catalog row cannot point the page at another file."""
    if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
        return None
    path = picture(folder, kind, sha256)
    return path if regular(path) else None


def regular(path: str | Path) -> bool:
    """Whether `path` is a regular file now (not a folder, a device or a pipe, not gone)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
