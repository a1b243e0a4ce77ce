"""Search quality on the toy world (tests/toyworld.py), measured through the product's own code
(altclip_core.load, the indexer, `Library.search`): each figure is one function here, asserted
against its target by tests/test_toyworld.py and printed by bench/quality.py.

A library is 300 photos of circles, squares and triangles in red, green, blue and yellow: no
stars and nothing purple, so that queries naming them have no answer. Seeds: the tests and the
bench measure with the seeds below; the thresholds of search.relevance were chosen with others
(bench/quality.py --calibrate), so the figures are held out.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from tests import toyworld
from tests.toyworld import Scene

PRESENT = dict(kinds=("circle", "square", "triangle"), colours=("red", "green", "blue", "yellow"))
LANGS = ("zh", "en")
HELD_OUT = dict(library=11, recall=2024, match=99, absent=5, image=77)
CALIBRATION = dict(library=31, recall=7, match=41, absent=43, image=47)


@dataclass
class ToyLibrary:
    """A library of toy photos, indexed by the indexer, and what each photo shows."""

    lib: object  # search.Library
    scenes: dict[int, Scene]  # photo id: what it shows
    dates: dict[int, datetime]  # photo id: capture date

    def truth(self, q: Scene) -> set[int]:
        return {i for i, s in self.scenes.items() if q.describes(s)}


def build_library(
    root: Path, model: Path, n: int = 300, seed: int = HELD_OUT["library"], words: bool = True
):
    """`n` toy photos with capture dates over 2015-2025 written under `root`/photos and indexed
    into `root`/library, their words read unless `words` is False (`Indexer.words`)."""
    from indexer import Indexer
    from search import Library

    rng = np.random.default_rng(seed)
    scenes = [toyworld.random_scene(rng, **PRESENT) for _ in range(n)]
    dates = [toyworld.random_date(rng) for _ in scenes]
    paths = toyworld.write_library(root / "photos", scenes, seed=seed + 1, dates=dates)
    Indexer(library=root / "library", model=str(model), words=words).run([root / "photos"])
    lib = Library.open(root / "library")
    catalogued = np.concatenate([ids for ids, _ in lib.catalog.vectors()]).tolist()
    ids = {photo.path: i for i, photo in lib.catalog.photos(catalogued).items()}
    return ToyLibrary(
        lib,
        {ids[str(p)]: s for p, s in zip(paths, scenes, strict=True)},
        {ids[str(p)]: d for p, d in zip(paths, dates, strict=True)},
    )


def queries(rng: np.random.Generator, n: int, **kinds) -> list[Scene]:
    """`n` captions as people write them: `toyworld.partial` of random scenes."""
    return [toyworld.partial(toyworld.random_scene(rng, **kinds), rng) for _ in range(n)]


def shown_queries(toy: ToyLibrary, seed: int, n: int = 80) -> list[Scene]:
    """`n` queries naming things the library shows ("红色的圆", "two squares on the left")."""
    rng = np.random.default_rng(seed)
    return [q for q in queries(rng, 4 * n, **PRESENT) if toy.truth(q)][:n]


def absent_queries(seed: int, n: int = 60) -> list[Scene]:
    """`n` queries that name a star or something purple, which the library has none of."""
    rng = np.random.default_rng(seed)
    return [q for q in queries(rng, 10 * n) if q.kind == "star" or q.colour == "purple"][:n]


# -- the figures ----------------------------------------------------------------------------------


def recall_at_5(model: Path, lang: str, seed: int = HELD_OUT["recall"], n: int = 200) -> float:
    """The share of `n` scenes the model never saw, no two alike, whose caption naming all they
    show ranks them among the 5 best of the `n`."""
    import altclip_core

    tower = altclip_core.load(model)
    rng = np.random.default_rng(seed)
    scenes = toyworld.distinct_scenes(rng, n)
    images = [Image.open(io.BytesIO(toyworld.photo_bytes(s, rng))) for s in scenes]
    texts = [toyworld.caption(s, lang) for s in scenes]
    sims = tower.embed_text(texts) @ tower.embed_images(images).T  # [captions, scenes]
    rank = (sims > sims.diagonal()[:, None]).sum(dim=1)
    return float((rank < 5).float().mean())


def match_quality(
    toy: ToyLibrary, lang: str, seed: int = HELD_OUT["match"], decide: Callable | None = None
) -> tuple[float, float]:
    """(precision, recall) of the photos `Library.search` marks as matches, over held-out
    queries naming things the library shows, counted over all queries' photos together.
    `decide(text, image) -> {photo id: match}` replaces the library's (calibration)."""
    decide = decide or (lambda text, image: decisions(toy, text, image))
    found = relevant = right = 0
    for q in shown_queries(toy, seed):
        matched = {i for i, m in decide(toyworld.caption(q, lang), None).items() if m}
        truth = toy.truth(q)
        found, relevant = found + len(matched), relevant + len(truth)
        right += len(matched & truth)
    return (right / found if found else float("nan")), right / relevant  # nan: none matched


def absent_no_match(
    toy: ToyLibrary, lang: str, seed: int = HELD_OUT["absent"], decide: Callable | None = None
) -> float:
    """The share of queries naming a subject the library lacks for which
    `Library.search(..., matches_only=True)` returns nothing."""
    empty = []
    for q in absent_queries(seed):
        text = toyworld.caption(q, lang)
        if decide is None:
            hits = toy.lib.search(text, k=len(toy.scenes), matches_only=True, dates=False)
            empty.append(not hits)
        else:
            empty.append(not any(decide(text, None).values()))
    return float(np.mean(empty))


def image_queries(
    toy: ToyLibrary,
    folder: Path,
    seed: int = HELD_OUT["image"],
    decide: Callable | None = None,
    n: int = 20,
) -> dict[str, tuple[float, float]]:
    """Image and mixed queries: a new picture of each of `n` scenes the library shows, alone
    and with the caption of its colour and kind ("a red circle"). Returns, for each of "image"
    and "mixed": the share of matched photos of that colour and kind (precision), and the share
    of queries that match something."""
    decide = decide or (lambda text, image: decisions(toy, text, image))
    rng = np.random.default_rng(seed)
    figures = {}
    for mode in ("image", "mixed"):
        right = found = answered = 0
        for i, scene in enumerate(list(toy.scenes.values())[:n]):
            path = folder / f"query-{seed}-{i}.jpg"
            if not path.exists():
                path.write_bytes(toyworld.photo_bytes(scene, rng))
            like = Scene(kind=scene.kind, colour=scene.colour)
            text = toyworld.caption(like, "en") if mode == "mixed" else None
            matched = [j for j, m in decide(text, path).items() if m]
            found, answered = found + len(matched), answered + bool(matched)
            right += sum(like.describes(toy.scenes[j]) for j in matched)
        figures[mode] = (right / found if found else float("nan"), answered / n)
    return figures


def decisions(toy: ToyLibrary, text: str | None, image: Path | None = None) -> dict[int, bool]:
    """{photo id: Hit.match} for every photo of the library."""
    hits = toy.lib.search(text, image=image, k=len(toy.scenes), dates=False)
    return {h.id: h.match for h in hits}
