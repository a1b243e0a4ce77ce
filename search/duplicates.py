"""Near-duplicate groups from stored image vectors and thumbnails: bursts, re-encodes, resized or
slightly cropped copies of one photo, found without re-embedding anything.

Two photos are near-duplicates when the cosine of their image embeddings is at least a threshold
and, where their thumbnails are at hand, their pixels are alike too (`alike`: the normalised
cross-correlation of two 48 x 48 squashed thumbnails, one moved by up to 8% of the side and shown
up to 16% closer, at least `SAME_LOOK`). The vectors find the candidates at a cosine a crop still
reaches (`threshold_for(..., looks=True)`); the pixels then tell a copy from another photo of
the same subject, which a vector may score as high. Groups are formed around leaders (star
clustering): the photo with the most near-duplicates becomes a leader and takes every ungrouped
photo that is a near-duplicate of itself; then the next, and so on. Every member is within the
threshold of its leader, so a group cannot chain distinct scenes together through a series of
near pairs (A≈B≈C≈D with A and D unlike), as connected components do: any two of its members
have a cosine of at least 2·threshold² − 1 (0.805 at 0.95), whatever the library.

Failure modes, known and accepted:
- The cosine is in the model's units. For CLIP-family image vectors copies of one photo score
  0.95-1.0 and different photos of one subject mostly below; `threshold_for` places the
  threshold relative to the library's typical pair, and raises it to identical pictures where a
  model finds every pair alike (random weights).
- Pixels alike at 48 x 48 are not pixels alike at full size: a small object added, moved or
  taken away (a second cup on a table) changes a few percent of the pixels and may pass; a copy
  cropped by more than 8% a side, rotated, mirrored or recoloured (a black-and-white version)
  fails. On the toy world (flat shapes a few pixels wide at 48 x 48, a hard case) 98% of the
  groups are found whole and 1.8% of distinct scenes are merged, mostly with a scene that differs
  by one small shape or only in size.
- Without a thumbnail (a library imported without them) a pair counts at `THRESHOLD` by its
  vectors alone.
- A burst that drifts (a pan, a subject walking across) is split into several groups where its
  ends are too far apart; a photo between two groups joins the one formed first.
- A leader takes at most `max_group` - 1 others (its nearest): a photo kept in thousands of
  copies comes as several groups.
- Time is one pass over all pairs, O(N² · dim) multiply-adds in blocks (100 000 photos of 768-d:
  about 8 · 10¹² multiply-adds, minutes on a few cores), plus about 1 ms for each candidate pair
  that is a copy and 6 ms for each that is not (pixels compared once per pair, on the Zen 3);
  memory is the vectors themselves plus O(N · max_group) for the neighbour lists and one block
  of scores, never N².
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

THRESHOLD = 0.95  # image-image cosine at or above which two photos are near-duplicates
CLOSER = 0.9  # the share of the way from a library's typical pair to identical a copy has gone
CANDIDATE = 0.75  # the same, for a pair whose pixels are then compared
SAMPLE_ROWS = 128  # photos whose pairs (8 128) give the typical pair
ALIKE = 0.8  # a typical pair's cosine from which a model cannot tell copies
IDENTICAL = 0.99999
MAX_GROUP = 64
LOOK = 48  # a picture's look: its pixels squashed to LOOK x LOOK
SHIFT = 4  # pixels of a look by which a copy may be moved: 8% of the side
ZOOMS = (1.0, 1.08, 1.16)  # how much closer than the other a (cropped) copy may show a picture
SAME_LOOK = 0.92  # the normalised cross-correlation of two looks at or above which they are alike
BLOCK = 2048  # rows (and columns) scored at a time: a 16 MB block of float32 scores


def threshold_for(sample: np.ndarray, threshold: float = THRESHOLD, looks: bool = False) -> float:
    """The cosine at which two photos of a library count as near-duplicates: `threshold`, or more
    where the model finds the library's photos alike. Copies must go `CLOSER` of the way from the
    cosine of a typical pair of the library's photos (the median over the pairs among `sample`:
    up to SAMPLE_ROWS rows of its image vectors, in a random order) to 1. With CLIP's image
    vectors a typical pair scores about 0.5, which leaves `threshold`. A model whose typical pair
    scores `ALIKE` or more sees too little to tell copies from other photos (random weights: the
    tests' checkpoints score 0.92-0.99); there only identical pictures group.

    With `looks` (pairs are then confirmed by their pixels, `alike`), the cosine at which a pair
    is worth comparing: `CANDIDATE` of the way from the typical pair to 1 (0.88 for CLIP's 0.5),
    which lets in the crops and bursts whose vectors moved more than a re-encode's."""
    rows = np.asarray(sample[:SAMPLE_ROWS], np.float32)
    if len(rows) < 2:
        return threshold
    typical = float(np.median((rows @ rows.T)[np.triu_indices(len(rows), 1)]))
    if typical >= ALIKE:
        return IDENTICAL
    if looks:
        return typical + CANDIDATE * (1 - typical)
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
    looks: Callable[[int], np.ndarray | None] | None = None,
) -> list[list[int]]:
    """The near-duplicate groups among photos, each of two or more, largest first.

    Args:
        ids: photo ids [N].
        vectors: their image vectors [N, dim], L2-normalised, in the same order.
        threshold: image-image cosine at or above which two photos are near-duplicates.
        max_group: the most photos one group holds.
        looks: each row's `look` (None where it has none): with them, a pair at `threshold`
            is near-duplicates only where its pixels are `alike` too (`_confirmed`).

    Returns:
        Groups of ids, each its leader first (the photo with the most near-duplicates, the most
        central of them), then the rest by cosine to it, best first. Photos with no
        near-duplicate are in no group.
    """
    ids = np.asarray(ids, np.int64)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    scores, near = neighbours(vectors, threshold, max_group - 1)
    if looks is not None:
        near = _confirmed(near, scores, looks)
    degree = (near >= 0).sum(axis=1)
    order = np.lexsort((np.arange(len(ids)), -degree))  # most neighbours first, then by row
    found = _stars(order[degree[order] > 0], near)
    found.sort(key=lambda g: (-len(g), g[0]))
    return [ids[g].tolist() for g in found]


def fold(
    vectors: np.ndarray,
    threshold: float = THRESHOLD,
    looks: Callable[[int], np.ndarray | None] | None = None,
) -> list[list[int]]:
    """A ranked list folded into groups of near-duplicates: each item, best first, becomes a
    leader unless an earlier leader already took it, and takes every later free item within
    `threshold` of itself. So the best-ranked photo of a group heads it.

    Args:
        vectors: [n, dim] L2-normalised image vectors of the ranked items, best first.
        threshold: image-image cosine at or above which two items are near-duplicates.
        looks: as `groups` takes them, by position.

    Returns:
        Lists of positions into `vectors`, one per group (a lone item is a group of one), in
        the order of their leaders; within a group, in rank order.
    """
    vectors = np.asarray(vectors, np.float32)
    scores = vectors @ vectors.T  # [n, n]; n is a page of results, not a library
    np.fill_diagonal(scores, -np.inf)
    near = scores >= threshold
    if looks is not None:
        for i, j in zip(*np.nonzero(np.triu(near)), strict=True):
            near[i, j] = near[j, i] = _copies(i, j, scores[i, j], looks)
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


def _confirmed(
    near: np.ndarray, scores: np.ndarray, looks: Callable[[int], np.ndarray | None]
) -> np.ndarray:
    """`near` (rows' candidate rows, -1 for none) less the pairs that are not `_copies` (`scores`:
    their cosines, aligned with `near`). Each pair's pixels are compared once."""
    seen: dict[tuple[int, int], bool] = {}
    kept = np.full_like(near, -1)
    for i, (row, score) in enumerate(zip(near, scores, strict=True)):
        out = []
        for j, cosine in zip(row.tolist(), score.tolist(), strict=True):
            if j < 0:
                continue
            pair = (min(i, j), max(i, j))
            if pair not in seen:
                seen[pair] = _copies(*pair, cosine, looks)
            if seen[pair]:
                out.append(j)
        kept[i, : len(out)] = out
    return kept


def _copies(i: int, j: int, cosine: float, looks) -> bool:
    """Whether two candidates (rows at the vectors' threshold) are copies: their looks `alike`,
    or where either has none, their `cosine` at THRESHOLD or more."""
    a, b = looks(i), looks(j)
    return cosine >= THRESHOLD if a is None or b is None else alike(a, b)


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


def look(image: Image.Image) -> np.ndarray:
    """What `alike` compares of a picture (any mode and size; a thumbnail will do): its RGB
    pixels squashed to a square of LOOK x the closest of ZOOMS, uint8 [E, E, 3]."""
    edge = round(LOOK * max(ZOOMS))
    return np.asarray(image.convert("RGB").resize((edge, edge), Image.BILINEAR))


def alike(a: np.ndarray, b: np.ndarray, at_least: float = SAME_LOOK) -> bool:
    """Whether two `look`s show one picture: the normalised cross-correlation of one with the
    other, moved by up to SHIFT pixels and shown closer by one of ZOOMS (either way round),
    reaches `at_least` (1: the same pixels, up to brightness and contrast). Stops at the first
    alignment that does: about 1 ms for a re-encoded copy, 5 for two different pictures."""
    for zoom in ZOOMS:
        for template, other in ((a, b), (b, a))[: 1 if zoom == 1 else 2]:
            t = np.asarray(Image.fromarray(template).resize((LOOK, LOOK), Image.BILINEAR))
            t = t.astype(np.float32) - t.mean()
            t /= max(float(np.linalg.norm(t)), 1e-6)
            edge = round(LOOK * zoom)
            moved = np.asarray(Image.fromarray(other).resize((edge, edge), Image.BILINEAR))
            picture = np.pad(moved.astype(np.float32), ((SHIFT,) * 2,) * 2 + ((0, 0),), "edge")
            if _ncc(t, picture).max() >= at_least:
                return True
    return False


def _ncc(t: np.ndarray, picture: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of `t` ([S, S, C], zero mean, unit norm) with every S x S
    window of `picture` ([M, M, C]): [M - S + 1, M - S + 1]. By FFT, and window sums of the
    picture from its integral image."""
    s, m = t.shape[0], picture.shape[0]
    spectrum = np.conj(np.fft.rfft2(t, (m, m), axes=(0, 1))) * np.fft.rfft2(picture, axes=(0, 1))
    numerator = np.fft.irfft2(spectrum, (m, m), axes=(0, 1)).sum(axis=-1)[: m - s + 1, : m - s + 1]
    sums = [_window_sums(x.sum(axis=-1), s) for x in (picture, picture * picture)]
    n = t.size
    spread = np.sqrt(np.maximum(sums[1] - sums[0] ** 2 / n, 1e-6))
    return numerator / spread


def _window_sums(x: np.ndarray, s: int) -> np.ndarray:
    """Sums of every s x s window of `x` [M, M]: [M - s + 1, M - s + 1]."""
    c = np.pad(x.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]
