"""What a search is asked: the query's text, picture, "more like this" photo and negative made
into the one vector photos are scored against, the photos it leaves out (the query photo: the
"more like this" one, or the library's photos with the very bytes of a query image, whether a
path names the file or its bytes are given), the capture dates its text names, and the `Words`
its matches are decided by (`ask`); and the photos its filters leave (`passing`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from search.arguments import clean_query, photo_id
from search.catalog import Catalog
from search.hits import SearchError
from search.matching import Words
from search.query import Query
from search.towers import Towers

NEGATIVE_WEIGHT = 0.5


@dataclass(frozen=True)
class Question:
    vector: np.ndarray  # [D] normalised: what photos are scored against
    leave_out: frozenset[int]  # the query photo's ids: `like`, or a query image's very bytes
    said: Query | None  # the capture dates the text names, None where none (or not read)
    words: Words  # what decides the matches


def ask(
    text: str | None,
    image: str | Path | bytes | Image.Image | None,
    like: int | None,
    negative: str | None,
    towers: Towers,
    catalog: Catalog,
    dates_said: Callable[[str], Query | None] | None,
    read_image: Callable[[str | Path | bytes | Image.Image], tuple[Image.Image, str | None]],
) -> Question:
    """The `Question` of a search's arguments (`Library.search`'s). `dates_said(text)`: the
    dates a text names (None: dates are not read); `read_image(image)`: (the image, the sha256
    of its bytes or None), read within the library's limits."""
    if text is None and image is None and like is None:
        raise SearchError("give a text query, an image, or both")
    parts, leave_out, said = [], set(), None
    picture = image is not None or like is not None
    if text is not None:
        text = clean_query(text)
        said = dates_said(text) if dates_said is not None else None
        if said is not None and not said.text and picture:
            text = None  # a date alone with a picture: it filters, the picture searches
        elif said is not None:
            text = said.text or text  # a date alone: the photos of those dates
    if text is not None:
        parts.append(towers.embed_text(text))
    if image is not None:
        image, sha256 = read_image(image)
        parts.append(towers.embed_image(image))
        if sha256 is not None:  # a file's bytes, named by its path or given: the library's own?
            leave_out |= set(catalog.ids_of(sha256))
    if like is not None:
        key = photo_id(like)
        stored = None if key is None else catalog.vector_of(key)
        if stored is None:
            raise SearchError(f"no photo {like!r:.40} with a vector in this library")
        parts.append(stored)
        leave_out.add(key)
    vector = np.sum(parts, axis=0)
    if negative is not None:
        negative = clean_query(negative, "negative")
        vector = vector - NEGATIVE_WEIGHT * towers.embed_text(negative)
    words = Words(text, negative, alone=not picture and negative is None)
    vector = (vector / np.linalg.norm(vector)).astype(np.float32)
    return Question(vector, frozenset(leave_out), said, words)


def passing(
    catalog: Catalog,
    said: Query | None,
    folder: str | None,
    after: datetime | None,
    before: datetime | None,
    kinds: list[str] | None,
    with_text: bool = False,
) -> np.ndarray | None:
    """The ids of the photos a search's filters leave, or None where there is no filter: under
    `folder`, of `kinds` (extensions), with words read in them (`with_text`), taken in
    [`after`, `before`) or, where neither is given, in any of the ranges the text names
    (`said`: 2019年和2021年 is two years)."""
    if after and before and after >= before:
        wrong = f"{after:%Y-%m-%d} is not before {before:%Y-%m-%d}"
        raise SearchError(f"the dates are the wrong way round: {wrong}")
    ranges = [(after, before)]
    if said is not None and after is None and before is None:
        ranges = list(said.ranges)
    if not (folder or kinds or with_text or any(a or b for a, b in ranges)):
        return None
    found = [catalog.passing(folder, a, b, kinds, with_text) for a, b in ranges]
    return found[0] if len(found) == 1 else np.unique(np.concatenate(found))
