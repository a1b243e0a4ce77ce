"""A text query's two rankings made one: the meaning ranking (the query's vector against the
photos', `Library._ranked`) and the words ranking (the query found in a photo's words or its
file's name, `search.words.lookup`), fused by reciprocal rank fusion (Cormack, Clarke and
Buettcher, SIGIR 2009): each photo scores the sum over the rankings holding it of
1 / (K + its rank), K = 60, and the `k` best by that sum are returned.

A words hit always surfaces: where fusion would leave a photo found by its words below the
`k`th place, it takes the place of the lowest photo found by meaning alone, so that a query for
「发票号码」 shows the invoice even when the tower ranks it nowhere. A photo found by its words is
a match (`Hit.match` True, whatever the text rules say) and says why (`Hit.words`: the line and
its box). The filters apply to both rankings alike: a words hit outside `among` (folder, dates,
kinds) or left out by the query is dropped, and so is one whose words hold the negative.
`Hit.score` stays the cosine of the photo's vector to the query's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from search.catalog import Catalog
from search.hits import Hit, hits_from
from search.question import Question
from search.words import lookup

K = 60  # reciprocal rank fusion's constant, as its paper found best


def fused(
    catalog: Catalog,
    hits: list[Hit],
    asked: Question,
    among: np.ndarray | None,
    k: int,
) -> list[Hit]:
    """`hits` (the meaning ranking of `asked`) fused with the photos whose words hold its text
    (dates said left out), as the module says; `hits` as they are where there is no text or no
    words hit.

    Args:
        among: the ids the filters leave (None: all).
    Returns:
        at most `k` Hits, best first."""
    text, negative = asked.words.text, asked.words.negative
    leave_out, vector = asked.leave_out, asked.vector
    if not text:
        return hits
    found = lookup(catalog, text, k)
    allowed = None if among is None else set(np.asarray(among).tolist())
    unwanted = {i for i, _ in lookup(catalog, negative, 4 * k)} if negative else set()
    found = [
        (i, w)
        for i, w in found
        if i not in leave_out and i not in unwanted and (allowed is None or i in allowed)
    ]
    if not found:
        return hits
    said = dict(found)
    by_id = {h.id: h for h in hits}
    missing = [i for i, _ in found if i not in by_id]
    for hit in _scored(catalog, missing, vector):
        by_id[hit.id] = hit
    fusion: dict[int, float] = {}
    for ranking in ([h.id for h in hits], [i for i, _ in found if i in by_id]):
        for rank, i in enumerate(ranking, 1):
            fusion[i] = fusion.get(i, 0.0) + 1 / (K + rank)
    order = sorted(fusion, key=lambda i: -fusion[i])
    best = order[:k]
    late = [i for i in order[k:] if i in said]
    for i in late:  # a words hit always surfaces: in place of the lowest found by meaning only
        alone = [j for j in best if j not in said]
        if not alone:
            break
        best.remove(alone[-1])
        best.append(i)
    return [replace(by_id[i], match=True, words=said[i]) if i in said else by_id[i] for i in best]


def _scored(catalog: Catalog, ids: list[int], vector: np.ndarray) -> list[Hit]:
    """The photos `ids` as Hits scored by the cosine of their stored vector to `vector`."""
    stored = {i: catalog.vector_of(i) for i in ids}
    kept = [i for i in ids if stored[i] is not None]
    scores = np.array([float(stored[i] @ vector) for i in kept], np.float32)
    return hits_from(catalog, np.array(kept, np.int64), scores)
