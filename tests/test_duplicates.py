"""Near-duplicate groups: the grouping on constructed vectors (where the truth is known exactly),
through the indexer and `Library` on toy photos with generated copies, and the issue's targets on
the toy world."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import altclip_core
from indexer import Indexer
from search import Library
from search.copies import fold
from search.duplicates import (
    THRESHOLD,
    Judge,
    alike,
    candidate_for,
    groups,
    look,
    neighbours,
    threshold_for,
)
from search.hits import Hit
from tests import toydup, toyworld
from tests.toydup import found_and_merged
from tests.toyworld import Scene


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def near(u: np.ndarray, cosine: float, rng) -> np.ndarray:
    """A unit vector at about `cosine` to the unit vector `u`."""
    w = rng.normal(size=u.shape)
    w -= (w @ u) * u
    return unit(cosine * u + np.sqrt(1 - cosine**2) * unit(w))


def test_neighbours_are_the_nearest_above_threshold():
    """Blocked scoring finds what one full matrix finds: each row's best others >= threshold."""
    rng = np.random.default_rng(0)
    v = unit(rng.normal(size=(300, 8)))
    scores, rows = neighbours(v, 0.7, k=4, block=64)
    full = v @ v.T
    np.fill_diagonal(full, -np.inf)
    for r in range(len(v)):
        want = [c for c in np.argsort(-full[r], kind="stable")[:4] if full[r, c] >= 0.7]
        assert rows[r][rows[r] >= 0].tolist() == want
        assert np.allclose(scores[r][: len(want)], full[r, want])


def constructed_library(rng, subjects: int = 300):
    """Vectors of photos whose truth is known: subjects (a place, a person), each photographed
    1-4 times at different moments (cosine 0.955 to the subject: distinct photos of one subject
    at ~0.91 to each other, as CLIP puts two shots of one scene), each photo with 0-3
    near-duplicates (cosine 0.975-0.995 to it, ~0.93-0.99 to each other). Returns (vectors,
    photo of each row)."""
    vectors, photo = [], []
    for _ in range(subjects):
        centre = unit(rng.normal(size=64))
        for _ in range(int(rng.integers(1, 5))):
            shot = near(centre, 0.955, rng)
            n = len(set(photo))
            vectors.append(shot)
            photo.append(n)
            for _ in range(int(rng.integers(0, 4))):
                vectors.append(near(shot, rng.uniform(0.975, 0.995), rng))
                photo.append(n)
    return np.stack(vectors), np.array(photo)


def test_groups_of_constructed_copies():
    """Where the vectors tell copies from other photos of the same subject, >= 95% of the
    groups are found whole and <= 1% of the distinct photos are merged with another."""
    vectors, photo = constructed_library(np.random.default_rng(7))
    found = groups(np.arange(len(photo)), vectors)
    assert all(len(g) >= 2 for g in found)
    whole, merged = found_and_merged(found, photo)
    assert whole >= 0.95 and merged <= 0.01, (whole, merged)


def test_a_model_that_finds_everything_alike_groups_only_identical_photos():
    """Random weights put every photo near every other (cosine ~0.98): such a model cannot tell
    copies, and only identical photos group. CLIP-like vectors, sampled from a library as the
    relevance background is, keep THRESHOLD; a model between the two, its own threshold."""
    rng = np.random.default_rng(3)
    vectors, _ = constructed_library(rng)
    assert threshold_for(vectors[rng.permutation(len(vectors))]) == THRESHOLD
    alike = np.stack([near(vectors[0], 0.99, rng) for _ in range(100)])
    alike[1] = alike[0]  # the same picture twice
    assert len(groups(np.arange(100), alike)) > 1  # the fixed threshold merges distinct ones
    assert groups(np.arange(100), alike, threshold_for(alike)) == [[0, 1]]
    closer = np.stack([near(vectors[0], 0.8, rng) for _ in range(100)])  # typical pair ~0.64
    assert 0.95 < threshold_for(closer) < 0.97


def test_a_chain_of_near_pairs_is_not_one_group():
    """Photos along an arc, each near the next (cosine 0.97), the ends far apart: connected
    components would make them one group; here every member is within the threshold of its
    group's first photo, so the arc is cut into several."""
    rng = np.random.default_rng(1)
    a, b = unit(rng.normal(size=(2, 32)))
    b = unit(b - (b @ a) * a)
    step = np.arccos(0.97)
    arc = unit(np.stack([np.cos(i * step) * a + np.sin(i * step) * b for i in range(12)]))
    found = groups(np.arange(12), arc)
    assert len(found) >= 3
    for g in found:
        assert (arc[g] @ arc[g[0]] >= THRESHOLD - 1e-6).all()


def test_fold_keeps_the_best_ranked_first():
    """A ranked list folded by stored group: the second and fourth results are copies of the
    first (its leader), the third of no one, the fifth and sixth members of a group whose leader
    ranks below: three hits, each group headed by its best-ranked photo, its copies in rank
    order."""
    hits = [Hit(str(i), 1 - i / 10, i, "", None, None, None) for i in range(1, 7)]
    leader_of = {2: 1, 4: 1, 5: 99, 6: 99}
    folded = fold(hits, leader_of)
    assert [[h.id] + [d.id for d in h.duplicates] for h in folded] == [[1, 2, 4], [3], [5, 6]]
    assert [h.score for h in folded] == [hits[0].score, hits[2].score, hits[4].score]
    assert fold([], leader_of) == []


def test_pixels_tell_copies_from_other_pictures():
    """Of 30 toy pictures, each with each kind of copy (a burst, a JPEG at quality 15-40, a
    resized copy, one cropped by up to 8% a side), 95% of the copies look alike to their
    picture; 40 pictures of distinct scenes do not, taken two by two (1 560 ordered pairs)."""
    rng = np.random.default_rng(5)
    missed = []
    for scene in toyworld.distinct_scenes(rng, 30):
        picture = toyworld.render(scene, rng)
        for kind in toydup.VARIANTS:
            if not alike(look(picture), look(toydup.variant(picture, kind, rng))):
                missed.append(kind)
    assert len(missed) <= 6, missed
    looks = [look(toyworld.render(s, rng)) for s in toyworld.distinct_scenes(rng, 40)]
    assert not any(alike(a, b) for a, b in itertools.permutations(looks, 2))


def test_pixels_confirm_what_the_vectors_find():
    """Three photos whose vectors are one: a picture, its JPEG copy, and another picture. The
    vectors alone group all three; their pixels keep the other apart. Photos without
    thumbnails are grouped by their vectors alone."""
    rng = np.random.default_rng(3)
    picture, other = (toyworld.render(s, rng) for s in toyworld.distinct_scenes(rng, 2))
    looks = [look(picture), look(toydup.variant(picture, "jpeg", rng)), look(other)]
    same = np.repeat(unit(rng.normal(size=(1, 16))), 3, axis=0)
    assert [sorted(g) for g in groups(np.arange(3), same)] == [[0, 1, 2]]
    assert [sorted(g) for g in groups(np.arange(3), same, looks=looks.__getitem__)] == [[0, 1]]
    assert [sorted(g) for g in groups(np.arange(3), same, looks=lambda i: None)] == [[0, 1, 2]]
    is_copy = Judge([looks[0], None, looks[2]].__getitem__, THRESHOLD)
    assert is_copy(0, 1, 1.0) and not is_copy(0, 2, 1.0) and is_copy(1, 2, 1.0)
    is_copy = Judge([looks[0], None, looks[2]].__getitem__, THRESHOLD)  # each pair judged once
    assert not is_copy(0, 1, THRESHOLD - 0.01)  # without a look: the vectors' threshold


def test_a_plain_part_of_a_picture_is_like_no_other_picture():
    """A small red square at the edge of a white picture: shown closer, the picture's windows
    that miss the square are plain white, and a plain window correlates with nothing (0 / 0).
    It must not count as alike: it once made this picture alike to 9 of 40 distinct ones."""
    rng = np.random.default_rng(6)
    edge = look(toyworld.render(Scene("square", "red", 1, "small", "left", "white"), rng))
    others = [look(toyworld.render(s, rng)) for s in toyworld.distinct_scenes(rng, 40)]
    assert not any(alike(edge, other) for other in others)


def test_a_frame_moved_as_a_burst_moves_is_alike_and_further_is_not():
    """30 toy pictures, each moved sideways: by 3% of the frame (a burst) every one is alike to
    itself; by 12% or 16% (the subject moved between two shots) few are, where every picture
    moved by 8% and half of those moved by 12% once were."""
    rng = np.random.default_rng(8)
    alike_at = {0.03: 0, 0.12: 0, 0.16: 0}
    for scene in toyworld.distinct_scenes(rng, 30):
        picture = toyworld.render(scene, rng)
        for share in alike_at:
            moved = Image.new("RGB", picture.size, picture.getpixel((0, 0)))
            moved.paste(picture, (round(share * picture.width), 0))
            alike_at[share] += alike(look(picture), look(moved))
    assert alike_at[0.03] == 30 and alike_at[0.12] <= 5 and alike_at[0.16] <= 3, alike_at


def test_plain_pictures_are_alike_by_their_colour():
    """A black frame and another black frame (no pattern to correlate) are alike; a grey one
    and a picture are not."""
    black, grey = (Image.new("RGB", (64, 64), (v, v, v)) for v in (0, 128))
    rng = np.random.default_rng(0)
    picture = toyworld.render(toyworld.random_scene(rng), rng)
    assert alike(look(black), look(black.resize((40, 40))))
    assert not alike(look(black), look(grey))
    assert not alike(look(black), look(picture))


def test_groups_need_as_many_ids_as_vectors():
    with pytest.raises(ValueError, match="3 ids for 2 vectors"):
        groups([1, 2, 3], np.zeros((2, 4), np.float32))


# -- through the indexer and Library, on toy photos ------------------------------------------------


@pytest.fixture(scope="module")
def toy_model():
    return toyworld.model_folder()  # trained here (minutes) if this version has no model yet


@pytest.fixture(scope="module")
def copies_library(tmp_path_factory, toy_model):
    """Toy photos the toy model's image vectors tell well apart (each its own colour and
    backdrop, three large shapes, kinds in turn: blue and purple stars on one backdrop scored
    0.95), about half with 1-3 generated near-duplicates, written as PNG files and indexed.
    Returns (Library, {photo id: the index of the photo it was made from})."""
    rng = np.random.default_rng(17)
    pairs = itertools.product(toyworld.COLOURS, toyworld.BACKGROUNDS)
    scenes = [
        Scene(toyworld.KINDS[i % len(toyworld.KINDS)], colour, 3, "large", None, background)
        for i, (colour, background) in enumerate(pairs)
    ]
    images, origin, _ = toydup.photos_with_copies(rng, len(scenes), scenes=scenes)
    root = tmp_path_factory.mktemp("copies")
    for i, image in enumerate(images):
        image.save(root / f"{i:03d}.png")
    folder = tmp_path_factory.mktemp("copies-lib")
    Indexer(library=folder, model=str(toy_model)).run([root])
    lib = Library.open(folder)
    ids = np.concatenate([ids for ids, _ in lib.catalog.vectors()]).tolist()
    return lib, {i: origin[int(p.path[-7:-4])] for i, p in lib.catalog.photos(ids).items()}


def partition(hits) -> set[frozenset[int]]:
    return {frozenset([h.id] + [d.id for d in h.duplicates]) for h in hits}


def truth_groups(origin: dict[int, int], at_least: int = 1) -> set[frozenset[int]]:
    by: dict[int, set[int]] = {}
    for photo, o in origin.items():
        by.setdefault(o, set()).add(photo)
    return {frozenset(g) for g in by.values() if len(g) >= at_least}


def test_library_lists_its_groups(copies_library):
    """`Library.duplicates()` finds every generated group, each headed by its copy with the most
    pixels, the others scored by their cosine to it (their vectors compared first, then their
    thumbnails' pixels)."""
    lib, origin = copies_library
    found = lib.duplicates()
    assert partition(found) == truth_groups(origin, at_least=2)
    for hit in found:
        pixels = [h.width * h.height for h in (hit, *hit.duplicates)]
        assert pixels[0] == max(pixels)
        assert hit.score == pytest.approx(1.0, abs=1e-5)
        best = lib.catalog.vector_of(hit.id)
        for d in hit.duplicates:
            assert d.score == pytest.approx(float(lib.catalog.vector_of(d.id) @ best), abs=1e-5)
    assert lib.duplicates() is found  # kept until the catalog changes


def test_thumbnails_split_what_the_vectors_join(tmp_path, toy_model):
    """Two shots of one toy scene (its shapes placed anew) and a cropped copy of the first score
    as copies by their vectors alone (0.98 each way): the library's thumbnails keep the second
    shot apart."""
    rng = np.random.default_rng(25)
    subject = Scene("triangle", "green", 3, "large", None, "black")
    first, second = toyworld.render(subject, rng), toyworld.render(subject, rng)
    pictures = {"first": first, "crop": toydup.variant(first, "cropped", rng), "second": second}
    for i, scene in enumerate(toyworld.distinct_scenes(rng, 30)):  # a typical pair to measure by
        pictures[f"{i:02d}"] = toyworld.render(scene, rng)
    for name, picture in pictures.items():
        picture.save(tmp_path / f"{name}.png")
    Indexer(library=tmp_path / "lib", model=str(toy_model)).run([tmp_path])
    lib = Library.open(tmp_path / "lib")
    ids, vectors = (np.concatenate(a) for a in zip(*lib.catalog.vectors(), strict=True))
    names = {Path(p.path).stem: i for i, p in lib.catalog.photos(ids.tolist()).items()}
    shots = lib.catalog.vector_of(names["first"]) @ lib.catalog.vector_of(names["second"])
    assert shots >= THRESHOLD
    assert shots >= candidate_for(vectors)  # the library's sample is every photo, in any order
    assert partition(lib.duplicates()) == {frozenset({names["first"], names["crop"]})}


def test_the_command_lists_the_groups(copies_library, capsys):
    """`altclip-search --duplicates --json`: a line per photo of each group, the best first; a
    query with it is a usage error."""
    from search.cli import main

    lib, origin = copies_library
    assert main(["--duplicates", "--json", "--library", str(lib.folder)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    found = lib.duplicates()
    assert [(r["group"], r["path"]) for r in rows] == [
        (n, h.path) for n, best in enumerate(found, 1) for h in (best, *best.duplicates)
    ]
    with pytest.raises(SystemExit) as stop:
        main(["猫", "--duplicates", "--library", str(lib.folder)])
    assert stop.value.code == 2
    read, write = os.pipe()
    os.close(read)  # `| head -1` that has already read its line
    cmd = [sys.executable, "-m", "search", "--duplicates", "--library", str(lib.folder)]
    done = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    assert (done.returncode, done.stderr) == (0, ""), "a reader gone early: quiet, as Unix tools"


def test_search_folds_copies_into_one_hit(copies_library):
    """`search(group=True)`: each group of copies comes as one hit, the best-scoring first, the
    others in its `duplicates` in score order; asked for as many hits as there are distinct
    photos, the whole library comes back, grouped as it was made."""
    lib, origin = copies_library
    k = len(set(origin.values()))
    plain = lib.search("红色的大圆", k=len(origin))
    hits = lib.search("红色的大圆", k=k, group=True)
    assert partition(hits) == truth_groups(origin)
    best = {h.id: h.score for h in plain}
    for hit in hits:
        scores = [hit.score] + [d.score for d in hit.duplicates]
        assert scores == sorted(scores, reverse=True)
        assert hit.score == pytest.approx(best[hit.id])
    assert [h.id for h in lib.search("红色的大圆", k=3, group=True)] == [h.id for h in hits[:3]]
    assert all(not h.duplicates for h in plain)


def test_search_looks_further_until_it_has_k_groups(copies_library, monkeypatch):
    """Where the first results fold into fewer than k groups (a burst), `group` reads more, so
    "show more" is offered as long as there are photos."""
    lib, origin = copies_library
    monkeypatch.setattr(lib.copies, "pool", 1)  # one result per group asked for, at first
    every = lib.search("红色的大圆", k=len(origin), group=True)
    for k in range(1, len(every) + 2):
        hits = lib.search("红色的大圆", k=k, group=True)
        assert [h.id for h in hits] == [h.id for h in every[:k]]


# -- the targets on the toy world ----------------------------------------------------------


def test_toy_world_groups(toy_model):
    """400 distinct toy scenes (no two with the same attributes: `toyworld.distinct_scenes`),
    about half with 1-3 generated near-duplicates (burst, low-quality JPEG, resized, cropped):
    >= 95% of the groups found whole, <= 1% of the distinct scenes merged with another."""
    model = altclip_core.load(toy_model, device="cpu")
    whole, merged = toydup.duplicate_figures(model)
    assert whole >= 0.95 and merged <= 0.01, (whole, merged)
