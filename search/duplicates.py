"""Near-duplicate groups from stored image vectors: bursts, re-encodes, resized or slightly cropped
copies of one photo, found without re-embedding anything.

Two photos are near-duplicates when the cosine of their image embeddings is at least `threshold`.
Groups are formed around leaders (star clustering): the photo with the most near-duplicates
becomes a leader and takes every ungrouped photo within `threshold` of itself; then the next, and
so on. Every member is within `threshold` of its leader, so a group cannot chain distinct scenes
together through a series of near pairs (A≈B≈C≈D with A and D unlike), as connected components
do: any two of its members have a cosine of at least 2·threshold² − 1 (0.805 at 0.95),
whatever the library.

Failure modes, known and accepted:
- The threshold is in the model's units. For CLIP-family image vectors copies of one photo score
  0.95-1.0 and different photos of one subject mostly below; a model whose image vectors ignore
  what tells two photos apart (the toy world's, which sees colour and backdrop, not where the
  shapes are) puts distinct photos above any threshold that finds the copies, and merges them.
  `threshold_for` raises the threshold where a library's typical pair scores near 1, which keeps
  a model that sees nothing from grouping everything, at the price of its real copies; its
  closest distinct pairs may still group.
- A burst that drifts (a pan, a subject walking across) is split into several groups where its
  ends are further than `threshold` apart; a photo between two groups joins the one formed first.
- A leader takes at most `max_group` - 1 others (its nearest): a photo kept in thousands of
  copies comes as several groups.
- Time is one pass over all pairs, O(N² · dim) multiply-adds in blocks (100 000 photos of 768-d:
  about 8 · 10¹² multiply-adds, minutes on a few cores); memory is the vectors themselves plus
  O(N · max_group) for the neighbour lists and one block of scores, never N².
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

THRESHOLD = 0.95  # image-image cosine at or above which two photos are near-duplicates
CLOSER = 0.9  # the share of the way from a library's typical pair to identical a copy has gone
SAMPLE_ROWS = 128  # photos whose pairs (8 128) give the typical pair
ALIKE = 0.8  # a typical pair's cosine from which a model cannot tell copies
IDENTICAL = 0.99999
MAX_GROUP = 64
BLOCK = 2048  # rows (and columns) scored at a time: a 16 MB block of float32 scores


def threshold_for(sample: np.ndarray, threshold: float = THRESHOLD) -> float:
    """The cosine at which two photos of a library count as near-duplicates: `threshold`, or more
    where the model finds the library's photos alike. Copies must go `CLOSER` of the way from the
    cosine of a typical pair of the library's photos (the median over the pairs among `sample`:
    up to SAMPLE_ROWS rows of its image vectors, in a random order) to 1. With CLIP's image
    vectors a typical pair scores about 0.5, which leaves `threshold`. A model whose typical pair
    scores `ALIKE` or more sees too little to tell copies from other photos (random weights: the
    tests' checkpoints score 0.92-0.99); there only identical pictures group."""
    rows = np.asarray(sample[:SAMPLE_ROWS], np.float32)
    if len(rows) < 2:
        return threshold
    typical = float(np.median((rows @ rows.T)[np.triu_indices(len(rows), 1)]))
    if typical >= ALIKE:
        return IDENTICAL
    return max(threshold, typical + CLOSER * (1 - typical))


def neighbours(
    vectors: np.ndarray, threshold: float = THRESHOLD, k: int = MAX_GROUP - 1, block: int = BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest other rows at cosine >= `threshold`, at most `k` of them.

    Args:
        vectors: [N, dim] L2-normalised (any array that slices into numpy, a memmap included).
        threshold: the cosine at or above which two rows count.
        k: neighbours kept per row.
        block: rows and columns scored at a time.

    Returns:
        (scores [N, k] float32, rows [N, k] int64), best first; -1 (and -inf) where a row has
        fewer than k such neighbours.
    """
    n = len(vectors)
    k = max(0, min(k, n - 1))
    best_s = np.full((n, k), -np.inf, np.float32)
    best_j = np.full((n, k), -1, np.int64)
    if not k:
        return best_s, best_j
    for i in range(0, n, block):
        rows = np.asarray(vectors[i : i + block], np.float32)
        s_run, j_run = best_s[i : i + block], best_j[i : i + block]
        for j in range(0, n, block):
            s = rows @ np.asarray(vectors[j : j + block], np.float32).T  # [rows, cols]
            if i == j:
                np.fill_diagonal(s, -np.inf)  # a photo is not its own duplicate
            s[s < threshold] = -np.inf
            if not np.isfinite(s).any():
                continue
            cols = np.broadcast_to(np.arange(j, j + s.shape[1]), s.shape)
            s_all = np.concatenate([s_run, s], axis=1)  # [rows, k + cols]
            j_all = np.concatenate([j_run, cols], axis=1)
            top = np.argpartition(-s_all, k - 1, axis=1)[:, :k]
            s_run = np.take_along_axis(s_all, top, axis=1)
            j_run = np.take_along_axis(j_all, top, axis=1)
        order = np.argsort(-s_run, axis=1, kind="stable")
        s_run = np.take_along_axis(s_run, order, axis=1)
        j_run = np.where(np.isfinite(s_run), np.take_along_axis(j_run, order, axis=1), -1)
        best_s[i : i + block], best_j[i : i + block] = s_run, j_run
    return best_s, best_j


def groups(
    ids: Sequence[int] | np.ndarray,
    vectors: np.ndarray,
    threshold: float = THRESHOLD,
    max_group: int = MAX_GROUP,
) -> list[list[int]]:
    """The near-duplicate groups among photos, each of two or more, largest first.

    Args:
        ids: photo ids [N].
        vectors: their image vectors [N, dim], L2-normalised, in the same order.
        threshold: image-image cosine at or above which two photos are near-duplicates.
        max_group: the most photos one group holds.

    Returns:
        Groups of ids, each its leader first (the photo with the most near-duplicates, the most
        central of them), then the rest by cosine to it, best first. Photos with no
        near-duplicate are in no group.
    """
    ids = np.asarray(ids, np.int64)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    _, near = neighbours(vectors, threshold, max_group - 1)
    degree = (near >= 0).sum(axis=1)
    order = np.lexsort((np.arange(len(ids)), -degree))  # most neighbours first, then by row
    found = _stars(order[degree[order] > 0], near)
    found.sort(key=lambda g: (-len(g), g[0]))
    return [ids[g].tolist() for g in found]


def fold(vectors: np.ndarray, threshold: float = THRESHOLD) -> list[list[int]]:
    """A ranked list folded into groups of near-duplicates: each item, best first, becomes a
    leader unless an earlier leader already took it, and takes every later free item within
    `threshold` of itself. So the best-ranked photo of a group heads it.

    Args:
        vectors: [n, dim] L2-normalised image vectors of the ranked items, best first.
        threshold: image-image cosine at or above which two items are near-duplicates.

    Returns:
        Lists of positions into `vectors`, one per group (a lone item is a group of one), in
        the order of their leaders; within a group, in rank order.
    """
    vectors = np.asarray(vectors, np.float32)
    near = (vectors @ vectors.T) >= threshold  # [n, n]; n is a page of results, not a library
    taken = np.zeros(len(vectors), bool)
    out = []
    for i in range(len(vectors)):
        if taken[i]:
            continue
        members = np.flatnonzero(near[i] & ~taken)
        members = np.union1d([i], members[members > i])
        taken[members] = True
        out.append(members.tolist())
    return out


def _stars(order: np.ndarray, near: np.ndarray) -> list[np.ndarray]:
    """Leaders in `order` each take their free neighbours (`near`: rows, -1 for none)."""
    taken = np.zeros(len(near), bool)
    out = []
    for leader in order.tolist():
        if taken[leader]:
            continue
        members = near[leader][near[leader] >= 0]
        members = members[~taken[members]]
        if not len(members):
            continue
        group = np.concatenate([[leader], members])  # neighbours come best first
        taken[group] = True
        out.append(group)
    return out
