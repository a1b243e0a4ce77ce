"""Which are copies? Near-duplicates (bursts, re-encodes, resized or cropped copies) as a library
finds them: among a search's results (`grouped`, one clear function: today per query) and over the
whole library (`Copies.groups`), from the stored vectors and the thumbnails' pixels
(`search.duplicates`, whose docstring says how and where it fails)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from search import duplicates as near
from search.arguments import number
from search.catalog import Catalog
from search.hits import Hit, SearchError, hits_from
from search.relevance import Background

GROUP_POOL = 4  # results searched per hit asked for, when near-duplicates are grouped
LOOKS_KEPT = 2048  # thumbnails' looks remembered for near-duplicate checks, 10 KB each
Look = Callable[[int], np.ndarray | None]  # a photo's row -> its thumbnail's `near.look`


def thresholds(background: Background) -> tuple[float, float]:
    """The cosine at which two photos are copies by their vectors alone, and the cosine from
    which their thumbnails' pixels are compared (`near.threshold_for`, `near.candidate_for` on
    the library's relevance background: milliseconds)."""
    return near.threshold_for(background.vectors), near.candidate_for(background.vectors)


def grouped(
    hits: list[Hit], vectors: np.ndarray, threshold: float, look: Look, candidate: float
) -> list[Hit]:
    """`hits` (best first, `vectors` [len(hits), D] theirs) folded into groups of near-duplicates
    (`near.fold`: vectors at `threshold`, or from `candidate` with the pixels of `look(i)`
    alike): each group as its best-ranked hit, the others in its `duplicates`, best first."""
    folded = near.fold(vectors, threshold, look, candidate)
    return [
        replace(hits[first], duplicates=tuple(hits[i] for i in rest)) for first, *rest in folded
    ]


class Copies:
    """A library's near-duplicates: per search (`search`) and over the library (`groups`, kept
    per catalog generation), the thumbnails' looks remembered (`LOOKS_KEPT`). `thumbnail(sha256)`
    gives a photo's thumbnail file, or None. `pool`: results searched per group asked for, at
    first (`GROUP_POOL`)."""

    def __init__(self, catalog: Catalog, thumbnail: Callable[[str | None], Path | None]):
        self.catalog, self.thumbnail = catalog, thumbnail
        self.pool = GROUP_POOL
        self._look_at = functools.lru_cache(LOOKS_KEPT)(_read_look)
        self._groups: tuple[int, float, list[Hit]] | None = None  # groups(), per generation

    def look(self, sha256: str | None) -> np.ndarray | None:
        """`near.look` of a photo's thumbnail, or None without one."""
        path = self.thumbnail(sha256)
        return None if path is None else self._look_at(str(path))

    def search(
        self, k: int, ranked: Callable[[int], list[Hit]], background: Background
    ) -> list[Hit]:
        """Up to `k` groups of the best results, folded from the `pool` x `k` best
        (`ranked(n)`: the n best hits), more read while fewer than `k` groups come of them and
        there are more photos; copies at the library's `thresholds` (`background`: its
        relevance background)."""
        threshold, candidate = thresholds(background)
        n = k * self.pool
        while True:
            hits = ranked(n)
            found = self.fold(hits, threshold, candidate)
            if len(found) >= k or len(hits) < n:
                return found[:k]
            n *= 2

    def fold(self, hits: list[Hit], threshold: float, candidate: float) -> list[Hit]:
        """`grouped` on the catalog's vectors of `hits` and their thumbnails; a photo without a
        vector (removed meanwhile) is left out."""
        rows = self.catalog.photos([h.id for h in hits])
        hits = [h for h in hits if h.id in rows and rows[h.id].embedding is not None]
        if not hits:
            return []
        vectors = np.stack([rows[h.id].vector for h in hits])
        return grouped(hits, vectors, threshold, lambda i: self.look(hits[i].sha256), candidate)

    def groups(self, background: Background, threshold: float | None = None) -> list[Hit]:
        """The library's groups of near-duplicates, largest first, each as its best photo (the
        most pixels, then the largest file), the others in its `duplicates`, every score the
        cosine to that best photo; photos without one are left out. Copies at `threshold` by
        their vectors alone (a cosine; default: the library's `thresholds`, `background` its
        relevance background). Kept until the catalog's generation (or `threshold`) changes."""
        given = threshold
        if given is not None and not (number(given) and 0 < given <= 1):
            raise SearchError(f"threshold is a cosine above 0 and at most 1, not {given!r:.40}")
        threshold, candidate = thresholds(background)
        if given is not None:
            threshold, candidate = given, min(candidate, given)
        generation = self.catalog.generation()
        cached = self._groups
        if cached is not None and cached[:2] == (generation, threshold):
            return cached[2]
        parts = list(self.catalog.vectors())
        ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        vectors = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, 0), np.float32)
        position = {int(i): row for row, i in enumerate(ids.tolist())}
        hashes = self.catalog.hashes(ids.tolist())

        def looks(row: int) -> np.ndarray | None:
            return self.look(hashes.get(int(ids[row])))

        members_of = near.groups(ids, vectors, threshold, looks=looks, candidate=candidate)
        flat = np.array([i for members in members_of for i in members], np.int64)
        known = {h.id: h for h in hits_from(self.catalog, flat, np.zeros(len(flat)))}
        found = []
        for members in members_of:
            hits = [known[i] for i in members if i in known]  # one removed meanwhile: left out
            if len(hits) < 2:
                continue
            best = max(hits, key=lambda h: ((h.width or 0) * (h.height or 0), h.size or 0, -h.id))
            hits = [best] + [h for h in hits if h is not best]
            scores = vectors[[position[h.id] for h in hits]] @ vectors[position[best.id]]
            first, *rest = (replace(h, score=float(s)) for h, s in zip(hits, scores, strict=True))
            found.append(replace(first, duplicates=tuple(rest)))
        self._groups = generation, threshold, found
        return found


def _read_look(path: str) -> np.ndarray | None:
    """`near.look` of a thumbnail file (named by its photo's sha256, so never stale), read-only,
    or None where it cannot be read."""
    try:
        with Image.open(path) as picture:
            found = near.look(picture)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    found.setflags(write=False)
    return found
