"""What a search gives back: `Hit`s (a photo, its score, whether it matches, its copies), the
library's `Status`, and the errors a query or a library can raise (`SearchError` and its kinds),
each with a message that says what to do."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from altclip_core.errors import AltCLIPError
from search.query import MAX_QUERY_CHARS
from search.words import WordsFound

if TYPE_CHECKING:
    from search.catalog import Catalog


class SearchError(AltCLIPError):
    """A query or library that cannot be searched; the message says what to do."""


class UnreadableImage(SearchError):
    """A query image that cannot be read (not an image, damaged, too large, not a file)."""


class NoLibrary(SearchError):
    """There is no library (yet) where one was asked for: index some photos first."""


class QueryTooLong(SearchError):
    """A text query (or negative: `what`) over MAX_QUERY_CHARS; `length` and `limit` say by how
    much."""

    def __init__(self, length: int, limit: int = MAX_QUERY_CHARS, what: str = "query"):
        super().__init__(f"the {what} is {length} characters long; keep it under {limit}")
        self.length, self.limit, self.what = length, limit, what


@dataclass(frozen=True)
class Hit:
    path: str
    score: float  # cosine similarity to the query
    id: int
    sha256: str
    width: int | None
    height: int | None
    taken_at: datetime | None  # when the photo was taken (EXIF), if it says
    # Whether it shows what the query asks for (search.relevance); None for a query without
    # words where the library is too small to tell (fewer than relevance.MIN_BACKGROUND photos).
    match: bool | None = None
    size: int | None = None  # bytes
    modified: datetime | None = None  # the file's time
    # Its near-duplicates (bursts, copies), best first, each scored as this hit is: with
    # `Library.search(group=True)` and in `Library.duplicates()`; empty otherwise.
    duplicates: tuple[Hit, ...] = ()
    # Why a text query found it by its words (search/fusion.py): the line read in the photo and
    # its box (fractions of width and height), or the file's name; None: by meaning alone.
    words: WordsFound | None = None

    @property
    def display_path(self) -> str:
        """The path for people to read: bytes that are not UTF-8 shown as �."""
        return os.fsencode(self.path).decode("utf-8", "replace")

    @property
    def date(self) -> datetime | None:
        """When it was taken, else when its file last changed: what date filters and sorting
        go by."""
        return self.taken_at or self.modified


@dataclass(frozen=True)
class Status:
    photos: int
    failed: int
    model: str
    last_indexed: datetime | None

    @property
    def model_short(self) -> str:
        """The model's name for people: `AltCLIP` for `BAAI/AltCLIP` or `/models/AltCLIP/`."""
        return Path(self.model.rstrip("/\\")).name or self.model


def hits_from(
    catalog: Catalog, ids: np.ndarray, scores: np.ndarray, decided: np.ndarray | None = None
) -> list[Hit]:
    """The catalog's photos `ids` as Hits, each with its score and its match (`decided`, else
    None), in the order given; a photo removed meanwhile is left out."""
    rows = catalog.photos(ids.tolist())
    decided = [None] * len(ids) if decided is None else [bool(m) for m in decided]
    return [
        Hit(
            r.path,
            float(score),
            r.id,
            r.sha256,
            r.width,
            r.height,
            r.taken_at,
            match=match,
            size=r.size,
            modified=_file_time(r.mtime_ns),
        )
        for i, score, match in zip(ids.tolist(), scores.tolist(), decided, strict=True)
        if (r := rows.get(i)) is not None
    ]


def _file_time(ns: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(ns / 1e9)
    except (OverflowError, OSError, ValueError):
        return None
