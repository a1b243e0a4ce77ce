"""Near-duplicate groups from stored image vectors and thumbnails: bursts, re-encodes, resized or
slightly cropped copies of one photo, found without re-embedding anything.

Two photos are near-duplicates when the cosine of their image embeddings is at least a threshold
and, where their thumbnails are at hand, their pixels are alike too (`alike`: the normalised
cross-correlation of two 48 x 48 squashed thumbnails, one shown up to 16% closer and moved as
far as a burst or a crop moves a copy, at least `SAME_LOOK`). The vectors find the candidates at
a cosine a crop still reaches (`candidate_for`); the pixels then tell a copy from another photo
of the same subject, which a vector may score as high (`Judge`). Groups are formed around
leaders (star clustering, `groups`): the photo with the most near-duplicates becomes a leader and
takes every ungrouped photo that is a near-duplicate of itself; then the next, and so on. Every
member is a near-duplicate of its leader, not necessarily of the other members, so a group
cannot chain distinct scenes together through a series of near pairs (A≈B≈C≈D with A and D
unlike), as connected components do. A library's groups are found as its photos are indexed
(search/copies.py): photos new to it are placed by the same rule as far as an incremental
method allows (`place`: each joins a leader it is a near-duplicate of, the others group among
themselves and the photos alone), their candidates the library's nearest (`nearest`).

Failure modes, known and accepted:
- The cosine is in the model's units. For CLIP-family image vectors copies of one photo score
  0.95-1.0 and different photos of one subject mostly below; `threshold_for` places the
  threshold relative to the library's typical pair, and raises it to identical pictures where a
  model finds every pair alike (random weights).
- Pixels alike at 48 x 48 are not pixels alike at full size: a small object added, moved or
  taken away (a second cup on a table), or a subject moved by a few percent on a plain backdrop
  (a second shot), changes few pixels and may pass; a copy cropped by more than 8% a side or
  mostly from one side, a burst whose frames moved by more than 3%, a copy rotated, mirrored or
  recoloured (a black-and-white version) fails. On the toy world (flat shapes a few pixels wide
  at 48 x 48, a hard case) 99% of the groups are found whole and 0.5% of distinct scenes are
  merged (held-out seed; 0-2% on the four seeds that chose `SAME_LOOK`), with a scene that
  differs by one small shape or only in size.
- Without a thumbnail (a library imported without them) a pair counts by its vectors alone, at
  `threshold_for`'s cosine (0.95 for CLIP).
- A burst that drifts (a pan, a subject walking across) is split into several groups where its
  ends are too far apart; a photo between two groups joins the one formed first.
- A leader takes at most `max_group` - 1 others (its nearest): a photo kept in thousands of
  copies comes as several groups.
- Time is one pass over all pairs, O(N² · dim) multiply-adds in blocks (100 000 photos of 768-d:
  about 8 · 10¹² multiply-adds, minutes on a few cores), plus, for each photo in a candidate
  pair, 3 ms to prepare its look and, per pair, 0.2 ms for a copy and 0.9 ms for two different
  pictures (on the Zen 3); memory is the vectors themselves plus O(N · max_group) for the
  neighbour lists, one block of scores and up to PREPARED_KEPT prepared looks (0.2 MB each),
  never N². Placing M photos (`place`) scans the library once per block of them (M · N · dim),
  pixels compared as above.
- Placed as they come, a photo joins a leader it is a near-duplicate of where, among all the
  photos at once (`groups`), it might have led a group; a leader's photos are placed again when
  it goes: a library's groups can differ from `groups` over its photos (not on one run's).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence

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
MOVE = 0.03  # the share of a picture's side by which a burst's frames move
SHIFT = math.ceil(MOVE * LOOK)  # the pixels a look is padded with
ZOOMS = (1.0, 1.08, 1.16)  # how much closer than the other a (cropped) copy may show a picture
SAME_LOOK = 0.91  # the normalised cross-correlation of two looks at or above which they are alike
FLAT = 3.0  # a look whose pixels spread less than this (of 255) is plain: compared by colour
PREPARED_KEPT = 512  # looks kept prepared while one grouping runs
BLOCK = 2048  # rows (and columns) scored at a time: a 16 MB block of float32 scores


def threshold_for(sample: np.ndarray, threshold: float = THRESHOLD) -> float:
    """The cosine at which two photos of a library count as near-duplicates by their vectors
    alone: `threshold`, or more where the model finds the library's photos alike. Copies must go
    `CLOSER` of the way from the cosine of a typical pair of the library's photos (`_typical`)
    to 1. With CLIP's image vectors a typical pair scores about 0.5, which leaves `threshold`. A
    model whose typical pair scores `ALIKE` or more sees too little to tell copies from other
    photos (random weights: the tests' checkpoints score 0.92-0.99); there only identical
    pictures group."""
    typical = _typical(sample)
    if typical is None:
        return threshold
    return IDENTICAL if typical >= ALIKE else max(threshold, typical + CLOSER * (1 - typical))


def candidate_for(sample: np.ndarray) -> float:
    """The cosine from which two photos' pixels are compared (`alike`): `CANDIDATE` of the way
    from a typical pair (`_typical`) to 1 (0.875 for CLIP's 0.5), which lets in the crops and
    bursts whose vectors moved more than a re-encode's; identical pictures only where the model
    finds every pair alike, as `threshold_for`."""
    typical = _typical(sample)
    if typical is None:
        return THRESHOLD
    return IDENTICAL if typical >= ALIKE else typical + CANDIDATE * (1 - typical)


def _typical(sample: np.ndarray) -> float | None:
    """The median cosine over the pairs among `sample` (up to SAMPLE_ROWS rows of a library's
    image vectors, in a random order), or None for fewer than two."""
    rows = np.asarray(sample[:SAMPLE_ROWS], np.float32)
    if len(rows) < 2:
        return None
    return float(np.median((rows @ rows.T)[np.triu_indices(len(rows), 1)]))


def neighbours(
    vectors: np.ndarray, threshold: float = THRESHOLD, k: int = MAX_GROUP - 1, block: int = BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest other rows at cosine >= `threshold`, at most `k` of them (`nearest`
    of each row among `vectors` [N, dim], any array that slices into numpy, a memmap included):
    (scores [N, k] float32, rows [N, k] int64), best first; -1 (and -inf) for none."""
    n = len(vectors)
    k = max(0, min(k, n - 1))
    scores, rows = np.full((n, k), -np.inf, np.float32), np.full((n, k), -1, np.int64)
    columns = [
        (np.arange(j, min(j + block, n)), vectors[j : j + block]) for j in range(0, n, block)
    ]
    for i in range(0, n, block):
        own = np.arange(i, min(i + block, n))
        found = nearest(vectors[i : i + block], own, columns, threshold, k, block)
        scores[i : i + block], rows[i : i + block] = found
    return scores, rows


def nearest(
    queries: np.ndarray,
    own: np.ndarray,
    library: Iterable[tuple[np.ndarray, np.ndarray]],
    threshold: float = THRESHOLD,
    k: int = MAX_GROUP - 1,
    block: int = BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's nearest photos of a library at cosine >= `threshold`, at most `k`, itself
    left out.

    Args:
        queries: [Q, dim] L2-normalised vectors.
        own: [Q] their ids: a query is not its own neighbour.
        library: (ids [n], vectors [n, dim]) parts, read once (any that slice into numpy).
        threshold: the cosine at or above which two photos count.
        k: neighbours kept per query.
        block: queries and library rows scored at a time (a 16 MB block of scores at 2048).

    Returns:
        (scores [Q, k] float32, ids [Q, k] int64), best first; -1 (and -inf) where a query has
        fewer than k such neighbours.
    """
    queries, own = np.asarray(queries, np.float32), np.asarray(own, np.int64)
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_j = np.full((len(queries), k), -1, np.int64)
    if not k:
        return best_s, best_j
    for ids, vectors in library:
        for j in range(0, len(ids), block):
            cols = np.asarray(ids[j : j + block], np.int64)
            rows = np.asarray(vectors[j : j + block], np.float32)
            for i in range(0, len(queries), block):
                s = queries[i : i + block] @ rows.T  # [queries, cols]
                s[(s < threshold) | (own[i : i + block, None] == cols[None, :])] = -np.inf
                hit = np.flatnonzero(np.isfinite(s).any(axis=1))  # most rows have none
                if not len(hit):
                    continue
                at, s = hit + i, s[hit]
                s_all = np.concatenate([best_s[at], s], axis=1)  # [hit, k + cols]
                j_all = np.concatenate([best_j[at], np.broadcast_to(cols, s.shape)], axis=1)
                top = np.argpartition(-s_all, k - 1, axis=1)[:, :k]
                best_s[at] = np.take_along_axis(s_all, top, axis=1)
                best_j[at] = np.take_along_axis(j_all, top, axis=1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    best_s = np.take_along_axis(best_s, order, axis=1)
    best_j = np.where(np.isfinite(best_s), np.take_along_axis(best_j, order, axis=1), -1)
    return best_s, best_j


def groups(
    ids: Sequence[int] | np.ndarray,
    vectors: np.ndarray,
    threshold: float = THRESHOLD,
    max_group: int = MAX_GROUP,
    looks: Callable[[int], np.ndarray | None] | None = None,
    candidate: float | None = None,
) -> list[list[int]]:
    """The near-duplicate groups among photos, each of two or more, largest first.

    Args:
        ids: photo ids [N].
        vectors: their image vectors [N, dim], L2-normalised, in the same order.
        threshold: image-image cosine at or above which two photos are near-duplicates by
            their vectors alone.
        max_group: the most photos one group holds.
        looks: each row's `look` (None where it has none). With them, a pair at `candidate`
            (default `threshold`) or above is near-duplicates where its pixels are `alike`, or
            where either has no look, at `threshold` (`Judge`).
        candidate: see `looks` (`candidate_for`).

    Returns:
        Groups of ids, each its leader first (the photo with the most near-duplicates, the most
        central of them), then the rest by cosine to it, best first. Photos with no
        near-duplicate are in no group.
    """
    ids = np.asarray(ids, np.int64)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    if looks is None:
        _, near = neighbours(vectors, threshold, max_group - 1)
    else:
        scores, near = neighbours(vectors, candidate or threshold, max_group - 1)
        near = _confirmed(near, scores, Judge(looks, threshold))
    degree = (near >= 0).sum(axis=1)
    order = np.lexsort((np.arange(len(ids)), -degree))  # most neighbours first, then by row
    found = _stars(order[degree[order] > 0], near)
    found.sort(key=lambda g: (-len(g), g[0]))
    return [ids[g].tolist() for g in found]


def _confirmed(near: np.ndarray, scores: np.ndarray, is_copy: Judge) -> np.ndarray:
    """`near` (rows' candidate rows, -1 for none) less the pairs that are not copies
    (`is_copy`; `scores`: their cosines, aligned with `near`)."""
    kept = np.full_like(near, -1)
    for i, (row, score) in enumerate(zip(near, scores, strict=True)):
        out = [j for j, c in zip(row.tolist(), score.tolist(), strict=True) if is_copy(i, j, c)]
        kept[i, : len(out)] = out
    return kept


class Judge:
    """Whether two candidates are copies: their looks (`looks(key)`, None where one has none)
    `alike`, or where either has none, their cosine at `threshold` or more. Each pair is judged
    once (until `forget_pairs`), each look prepared once (the last PREPARED_KEPT kept)."""

    def __init__(self, looks: Callable[[int], np.ndarray | None], threshold: float):
        self.threshold = threshold
        self.looks = functools.lru_cache(PREPARED_KEPT)(
            lambda key: None if (found := looks(key)) is None else _Prepared(found)
        )
        self.seen: dict[tuple[int, int], bool] = {}

    def __call__(self, i: int, j: int, cosine: float) -> bool:
        if j < 0:
            return False
        pair = (min(i, j), max(i, j))
        if pair not in self.seen:
            a, b = self.looks(pair[0]), self.looks(pair[1])
            same = cosine >= self.threshold if a is None or b is None else _alike(a, b)
            self.seen[pair] = same
        return self.seen[pair]

    def forget_pairs(self) -> None:
        self.seen.clear()


def place(
    pending: Sequence[int],
    near: Mapping[int, Sequence[tuple[int, float]]],
    leader_of: Mapping[int, int],
    size: Mapping[int, int],
    waiting: Container[int] = (),
    max_group: int = MAX_GROUP,
) -> list[tuple[int, int, float]]:
    """Photos new to a library's groups placed, by `groups`' star rule as far as photos that
    come a few at a time allow: each joins the group of a leader it is a near-duplicate of (the
    best cosine first, where the group has room); those left, with the photos alone they are
    near-duplicates of, form groups as `groups` forms them (the photo with the most
    near-duplicates leads and takes its free near-duplicates, then the next; ties by id).

    Args:
        pending: the photos to place (none in a group), by id.
        near: the near-duplicates (id, cosine), best first, of each of `pending` and of each
            photo alone among theirs: the library's, `groups`' candidates confirmed.
        leader_of: photos in a group and not leading it -> its leader.
        size: photos leading a group -> its size.
        waiting: photos placed later (neither a leader nor free now).
        max_group: the most photos one group holds.

    Returns:
        (member, leader, cosine) for each photo that joins a group: of `pending`, or alone
        before and taken by a new group's leader.
    """
    size, waiting, pending_at = dict(size), set(waiting), set(pending)
    rows, free = [], []
    for p in pending:
        room = ((y, c) for y, c in near.get(p, ()) if size.get(y, max_group) < max_group)
        joined = next(room, None)
        if joined is None:
            free.append(p)
        else:
            rows.append((p, *joined))
            size[joined[0]] += 1
    left = set(leader_of) | set(size) | waiting | pending_at
    alone = {y for p in free for y, _ in near.get(p, ()) if y not in left}
    free_at = set(free) | alone
    taken: set[int] = set()
    for leader in sorted(free_at, key=lambda i: (-len(near.get(i, ())), i)):
        if leader in taken:
            continue
        members = [(y, c) for y, c in near.get(leader, ()) if y in free_at and y not in taken]
        members = members[: max_group - 1]
        if members:
            taken |= {leader, *(y for y, _ in members)}
            rows += [(y, leader, c) for y, c in members]
    return rows


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


def alike(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two `look`s show one picture: the normalised cross-correlation of one with the
    other, shown closer by one of ZOOMS and moved as far as a copy so shown may be (either way
    round), reaches SAME_LOOK (1: the same pixels, up to brightness and contrast). Two plain
    pictures (a black frame) are alike where their colours are within FLAT of each other."""
    return _alike(_Prepared(a), _Prepared(b))


class _Prepared:
    """A look made ready for `_alike`, once however many pairs it is in: for each of ZOOMS, its
    template (squashed to LOOK x LOOK, zero mean, unit norm) transformed at the size of a
    picture shown that close, and itself shown that close, transformed, with the spread of
    every window."""

    def __init__(self, look: np.ndarray):
        t = np.asarray(Image.fromarray(look).resize((LOOK, LOOK), Image.BILINEAR), np.float32)
        self.colour = t.reshape(-1, 3).mean(axis=0)
        t -= t.mean()
        self.flat = float(t.std()) < FLAT
        t /= max(float(np.linalg.norm(t)), 1e-6)
        self.templates, self.pictures = {}, {}
        for zoom in ZOOMS:
            edge = round(LOOK * zoom)
            moved = Image.fromarray(look).resize((edge, edge), Image.BILINEAR)
            picture = np.pad(np.asarray(moved, np.float32), ((SHIFT,) * 2,) * 2 + ((0, 0),), "edge")
            m = picture.shape[0]
            self.templates[zoom] = np.conj(np.fft.rfft2(t, (m, m), axes=(0, 1)))
            sums = [
                _window_sums(x.sum(axis=-1, dtype=np.float64), LOOK) for x in (picture, picture**2)
            ]
            spread = np.sqrt(np.maximum(sums[1] - sums[0] ** 2 / t.size, 0))
            spread[spread < FLAT * np.sqrt(t.size)] = np.inf  # a plain window is like no template
            # A copy is moved by a burst's MOVE, and a cropped one by up to half of what was cut.
            reach = MOVE * LOOK + (zoom - 1) * LOOK / 2
            offset = np.abs(np.arange(len(spread)) - (len(spread) - 1) / 2)
            spread[(offset[:, None] > reach) | (offset[None, :] > reach)] = np.inf
            self.pictures[zoom] = np.fft.rfft2(picture, axes=(0, 1)), spread


def _alike(a: _Prepared, b: _Prepared) -> bool:
    """`alike` of two prepared looks: about 0.2 ms for a re-encoded copy, 0.9 for two different
    pictures, on the Zen 3 (stops at the first alignment that reaches SAME_LOOK)."""
    if a.flat or b.flat:
        return a.flat and b.flat and float(np.abs(a.colour - b.colour).max()) <= FLAT
    for zoom in ZOOMS:
        for template, other in ((a, b), (b, a))[: 1 if zoom == 1 else 2]:
            spectrum, spread = other.pictures[zoom]
            m = spread.shape[0] + LOOK - 1  # the picture's side
            correlation = np.fft.irfft2(template.templates[zoom] * spectrum, (m, m), axes=(0, 1))
            valid = correlation.sum(axis=-1)[: spread.shape[0], : spread.shape[1]]
            if (valid / spread).max() >= SAME_LOOK:
                return True
    return False


def _window_sums(x: np.ndarray, s: int) -> np.ndarray:
    """Sums of every s x s window of `x` [M, M]: [M - s + 1, M - s + 1]."""
    c = np.pad(x.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]
