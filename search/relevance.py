"""Which results match a query: a relevance cut-off decided per query.

A raw cosine is not a confidence. Its scale moves from one query to the next (a short query scores
lower against everything than a long one; an image query scores far higher than a text query; some
words sit closer to every photo than others), so no fixed `min_score` separates the photos that
show a thing from those that do not (immich #5996, rclip #207).

The method: the query is scored against a fixed random sample of the library (the background,
`Background.fit`, made once per index). Most photos of a library do not show what a query names,
so these scores are what a photo that does not match scores *for this query*. Their median and
spread (the median absolute deviation, robust to the few matches in the sample) turn each score
into a standing, z = (score - median) / spread. A photo matches when

1. it stands out of the background: z >= `Z`, i.e. far beyond what non-matching photos of this
   library score for this very query; and
2. it is in the leading group: z >= `RHO` times the standing of the best photo. Photos that share
   only part of a query (a red square for "a red circle") stand out of the background too, but
   less than the photos that show all of it.

Text, image and mixed queries go through the same steps, as each is one vector scored against
the same photos; the standing absorbs their different scales.

Known failure modes:
- A subject that most of the library shows: the background then *is* the matching photos, so
  few or none of them stand out. A query that names half the library or more is not reliably cut.
- With no photo that shows all of a query, the photos that show the most of it lead, and may be
  matched (rule 2 is relative to the best photo, not absolute).
- A filtered search (a folder, dates) compares with the best photo that passes the filter, so
  partial matches inside the filter may be matched while full ones lie outside it.
- An image query that is itself in the library (or has copies there) makes the best standing that
  of a copy; rule 2 is measured against the best photo that is not a copy (`COPY`).
- A background of fewer than `MIN_BACKGROUND` photos is too small to tell: every photo is then
  left undecided (`matches` returns None).
- A model whose scores fall into several groups for every query (photos that share two, three,
  four of a query's attributes, as the toy model's do) widens the background's spread, so the
  standings of real matches stay small (2-3) and those of an absent subject's nearest photos are
  as large: the cut then depends on the model more than on these thresholds.
- A subject the library lacks, whose nearest photos share all else with it ("a red star" among
  red circles): only the model can tell them apart, and scores that are relative to the query
  cannot. A fixed cosine floor per model could, where one is known.

`Z` (about 1 in 30 000 for a normal background) and `RHO` are reasoned defaults, checked on
constructed vectors (tests/test_relevance.py). On the toy world no pair meets the targets
(bench/quality.py --calibrate, on seeds the tests do not use): the best, Z 2 with RHO 0.7,
matches with precision 0.71-0.74 at recall 0.14-0.15, while a per-query threshold chosen knowing
the truth would reach 0.90 and 0.96 (`--with separation`); and at Z 2 or less a subject that a
normal background lacks matches its noise (the best of a thousand noise scores stands about 3
above the median), so the defaults stay. At Z 4 the toy model matches nothing. With real weights
none of this has been measured: the toy world is the only calibration there is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SAMPLE = 2000  # background photos kept per index
MIN_BACKGROUND = 50  # fewer than this: no decision
Z = 4.0  # standing above the background's median, in robust standard deviations
RHO = 0.7  # standing relative to the best photo's
COPY = 0.98  # cosine at which an image query's hit is a copy of it, not a match to measure by
MAD_TO_SD = 1.4826  # the median absolute deviation of a normal distribution, times this, is its sd


@dataclass(frozen=True)
class Background:
    """A fixed sample of a library's vectors, [N, D] float32, against which each query's scores
    are measured."""

    vectors: np.ndarray

    @classmethod
    def fit(
        cls, vectors: np.ndarray | Sequence[np.ndarray], size: int = SAMPLE, seed: int = 0
    ) -> Background:
        """A random sample of `size` rows of `vectors` ([N, D], or several such arrays taken as
        one, e.g. an index's memory-mapped base and its delta: only the sampled rows are read).
        The same input gives the same sample."""
        parts = [vectors] if isinstance(vectors, np.ndarray) else list(vectors)
        total = sum(len(p) for p in parts)
        rows = np.arange(total)
        if total > size:
            rows = np.sort(np.random.default_rng(seed).choice(total, size, replace=False))
        starts = np.cumsum([0] + [len(p) for p in parts])
        sample = [
            np.asarray(p[rows[(rows >= a) & (rows < b)] - a], np.float32)
            for p, a, b in zip(parts, starts, starts[1:], strict=False)
        ]
        dim = parts[0].shape[1] if parts else 0
        return cls(np.concatenate(sample) if sample else np.empty((0, dim), np.float32))

    def __len__(self) -> int:
        return len(self.vectors)

    def standing(self, query: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """`scores` of `query` (normalised, [D]) as robust z-scores against this background."""
        background = self.vectors @ np.asarray(query, np.float32)
        median = float(np.median(background))
        spread = MAD_TO_SD * float(np.median(np.abs(background - median)))
        return (np.asarray(scores, np.float32) - median) / max(spread, 1e-6)


def matches(
    query: np.ndarray,
    scores: np.ndarray,
    background: Background,
    z: float = Z,
    rho: float = RHO,
) -> np.ndarray | None:
    """Which of `scores` (the query's cosines to some photos, the best among them included) are
    matches, by the method of this module's docstring.

    Args:
        query: the normalised query vector [D] that produced `scores`.
        scores: [K] cosines, e.g. the top k of a search.
        background: the library's `Background`.
        z, rho: the two thresholds (`Z`, `RHO`).

    Returns:
        [K] bool, or None where the background is too small to decide.
    """
    if len(background) < MIN_BACKGROUND:
        return None
    scores = np.asarray(scores, np.float32)
    if not len(scores):
        return np.zeros(0, bool)
    standing = background.standing(query, scores)
    ordinary = scores < COPY
    best = standing[ordinary].max() if ordinary.any() else standing.max()
    return standing >= max(z, rho * best)
