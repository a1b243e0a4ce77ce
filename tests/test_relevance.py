"""The per-query relevance cut-off (search.relevance) on vectors whose truth is known by
construction; tests/test_toyworld.py measures it with a trained model."""

from __future__ import annotations

import numpy as np
import pytest

from search.relevance import MIN_BACKGROUND, Background, matches

D = 64


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def world():
    """1000 photos of nothing in particular and 30 of a subject (direction u), 30 of the subject
    with a detail (u + w), all sharing a common direction c, as embeddings of one model do."""
    rng = np.random.default_rng(0)
    c, u, w, absent = np.linalg.qr(rng.normal(size=(D, 4)))[0].T
    noise = rng.normal(size=(1060, D)) / np.sqrt(D)
    vectors = 0.6 * c + 0.4 * noise
    vectors[1000:] += 0.6 * u
    vectors[1030:] += 0.9 * w
    return unit(vectors).astype(np.float32), c, u, w, absent


def test_the_cut_follows_the_query_not_a_fixed_score(world):
    """A text-like query (far from everything) and an image-like one (near everything) both
    match exactly the subject's photos, though the first one's matches score lower than the
    second one's non-matches: no fixed min_score could do both."""
    vectors, c, u, _, _ = world
    vectors = vectors[:1030]  # the subject alone
    background = Background.fit(vectors)
    truth = np.arange(len(vectors)) >= 1000
    cuts = []
    for q in [u, unit(c + u)]:
        scores = vectors @ q
        assert (matches(q, scores, background) == truth).all()
        cuts.append((scores[truth].min(), scores[~truth].max()))
    (low_match, _), (_, high_other) = cuts
    assert low_match < high_other


def test_a_subject_the_library_lacks_matches_nothing(world):
    vectors, _, _, _, absent = world
    background = Background.fit(vectors)
    assert not matches(absent, vectors @ absent, background).any()


def test_photos_that_show_only_part_of_the_query_are_left_out(world):
    """For "the subject with the detail", the 30 photos that show both match, the 30 that show the
    subject alone (they score well above the rest too) do not."""
    vectors, _, u, w, _ = world
    q = unit(u + w)
    decided = matches(q, vectors @ q, Background.fit(vectors))
    assert decided[1030:].all() and not decided[:1030].any()


def test_top_k_scores_get_the_same_decisions_as_all_of_them(world):
    vectors, _, u, _, _ = world
    background = Background.fit(vectors)
    scores = vectors @ u
    top = np.argsort(-scores)[:20]
    assert (matches(u, scores[top], background) == matches(u, scores, background)[top]).all()
    assert matches(u, scores[:0], background).shape == (0,)


def test_too_small_a_library_is_left_undecided(world):
    vectors, _, u, _, _ = world
    small = Background.fit(vectors[: MIN_BACKGROUND - 1])
    assert matches(u, vectors @ u, small) is None


def test_the_background_is_a_fixed_sample():
    vectors = unit(np.random.default_rng(1).normal(size=(5000, D))).astype(np.float32)
    a, b = Background.fit(vectors, size=300), Background.fit(vectors, size=300)
    assert len(a) == 300 and (a.vectors == b.vectors).all()
    assert len(Background.fit(vectors[:100], size=300)) == 100
    split = Background.fit([vectors[:3000], vectors[3000:]], size=300)  # a base and its delta
    assert (split.vectors == a.vectors).all()
