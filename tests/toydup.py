"""Near-duplicates and two-subject scenes for the toy world (tests/toyworld.py), built on its
public functions only, as ground truth for duplicate groups and heat maps.

Near-duplicates of a photo are what a camera and a photo library make of one moment: a burst
(the frame moved by a few pixels, the light a little brighter or darker), a JPEG re-encoded at low
quality, a resized copy, a slightly cropped copy. Two-subject scenes put two single shapes of
different kinds and colours on one background, one on the left and one on the right, and say
which pixels each covers.

Each figure of the issue is one function here (`duplicate_figures`, `peak_figure`), asserted by
tests/test_duplicates.py and tests/test_explain.py and meant to be printed by bench/quality.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance

from tests import toyworld
from tests.toyworld import Scene

SEEDS = dict(duplicates=1, peak=31)  # held out: seed 0 chose the method and its window

VARIANTS = ("burst", "jpeg", "resized", "cropped")


def variant(image: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    """A near-duplicate of `image` (RGB) of `kind` (one of VARIANTS)."""
    w, h = image.size
    if kind == "burst":  # the camera moved by up to 3% of the frame, the exposure changed a bit
        dx, dy = (int(v) for v in rng.integers(-round(0.03 * w), round(0.03 * w) + 1, 2))
        edge = tuple(int(c) for c in np.asarray(image)[0, 0])  # the backdrop, where it shows
        moved = Image.new("RGB", (w, h), edge)
        moved.paste(image, (dx, dy))
        return ImageEnhance.Brightness(moved).enhance(float(rng.uniform(0.92, 1.08)))
    if kind == "jpeg":  # saved again at a quality people use to save space
        return _jpeg(image, int(rng.integers(15, 41)))
    if kind == "resized":  # a smaller copy (a messaging app's), saved as JPEG again
        scale = rng.uniform(0.4, 0.8)
        small = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
        return _jpeg(small, 75)
    if kind == "cropped":  # up to 8% cut off each side
        left, top, right, bottom = (float(v) for v in rng.uniform(0, 0.08, 4))
        box = (round(left * w), round(top * h), round(w * (1 - right)), round(h * (1 - bottom)))
        return image.crop(box)
    raise ValueError(f"unknown variant {kind!r}; known: {', '.join(VARIANTS)}")


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def photos_with_copies(
    rng: np.random.Generator, n: int, copies=(1, 4), scenes: list[Scene] | None = None
) -> tuple[list[Image.Image], list[int], list[Scene]]:
    """`n` distinct photos (each its own render of a random scene, or of `scenes`), about half
    of them with 1-3 near-duplicates of random kinds. Returns (images, group of each image:
    the index of the photo it was made from, scene of each photo)."""
    scenes = scenes or [toyworld.random_scene(rng) for _ in range(n)]
    images, group = [], []
    for i, scene in enumerate(scenes[:n]):
        original = toyworld.render(scene, rng)
        images.append(original)
        group.append(i)
        if rng.random() < 0.5:
            for _ in range(int(rng.integers(*copies))):
                images.append(variant(original, str(rng.choice(VARIANTS)), rng))
                group.append(i)
    return images, group, list(scenes[:n])


@dataclass
class TwoShapes:
    """A picture of two single shapes and the pixels each covers ([H, W] bool masks)."""

    image: Image.Image
    scenes: tuple[Scene, Scene]  # left, right
    masks: tuple[np.ndarray, np.ndarray]


def two_shapes(rng: np.random.Generator, same_colour: bool = False) -> TwoShapes:
    """Two single shapes of different kinds and (unless `same_colour`) different colours, one
    on the left, one on the right, of one size, on one background: each drawn by
    `toyworld.render` alone and the two pictures laid over each other."""
    kinds = rng.choice(toyworld.KINDS, 2, replace=False)
    colours = rng.choice(tuple(toyworld.COLOURS), 1 if same_colour else 2, replace=False)
    size, background = rng.choice(tuple(toyworld.SIZES)), rng.choice(tuple(toyworld.BACKGROUNDS))
    scenes = tuple(
        Scene(str(k), str(colours[i % len(colours)]), 1, str(size), side, str(background))
        for i, (k, side) in enumerate(zip(kinds, ("left", "right"), strict=True))
    )
    layers = [np.asarray(toyworld.render(s, rng)).astype(np.int16) for s in scenes]
    masks = tuple(_drawn(layer) for layer in layers)
    canvas = layers[0].copy()
    canvas[masks[1]] = layers[1][masks[1]]
    return TwoShapes(Image.fromarray(canvas.astype(np.uint8)), scenes, masks)


def _drawn(pixels: np.ndarray) -> np.ndarray:
    """Where a render differs from its backdrop (its corner's colour): the shapes."""
    return np.abs(pixels - pixels[0, 0]).sum(axis=-1) > 40


# -- the figures ----------------------------------------------------------------------------------


def found_and_merged(found: list[list[int]], origin) -> tuple[float, float]:
    """How well `found` (groups of row numbers) recovers the truth (`origin[row]`: the photo a
    row was made from): (the share of photos with copies whose rows all share one group, the
    share of distinct photos that share a group with another photo)."""
    origin = np.asarray(origin)
    group_of = {row: g for g, rows in enumerate(found) for row in rows}
    truth: dict[int, list[int]] = {}
    for row, photo in enumerate(origin.tolist()):
        truth.setdefault(photo, []).append(row)
    copied = [rows for rows in truth.values() if len(rows) > 1]
    whole = sum(len({group_of.get(r, -1 - r) for r in rows}) == 1 for rows in copied)
    merged = {p for rows in found if len(set(origin[rows])) > 1 for p in origin[rows].tolist()}
    return whole / len(copied), len(merged) / len(truth)


def duplicate_figures(
    model, n: int = 400, seed: int = SEEDS["duplicates"], threshold: float | None = None
) -> tuple[float, float]:
    """`n` distinct toy scenes (no two with the same attributes: `toyworld.distinct_scenes`),
    about half with 1-3 generated near-duplicates, embedded by `model` and grouped by
    `search.duplicates.groups` as `Library.duplicates` groups them: candidates by their vectors
    (`candidate_for`, or `threshold` where given), confirmed by their pixels.
    Returns (share of groups found whole, share of distinct scenes merged). Targets: >= 0.95
    and <= 0.01."""
    from search.duplicates import candidate_for, groups, look

    rng = np.random.default_rng(seed)
    scenes = toyworld.distinct_scenes(rng, n)
    images, origin, _ = photos_with_copies(rng, n, scenes=scenes)
    vectors = model.embed_images(images, batch_size=64).numpy()
    candidate = threshold or candidate_for(vectors[rng.permutation(len(vectors))])
    looks = [look(image) for image in images]
    found = groups(np.arange(len(images)), vectors, looks=looks.__getitem__, candidate=candidate)
    return found_and_merged(found, origin)


def peak_on_shape(model, cases: list[TwoShapes], method: str = "occlusion") -> float:
    """The share of `cases` whose heat map (`search.explain.heat_map`) peaks on the queried
    shape: the peak cell holds more of its pixels than of the other shape's (a cell on neither
    is a miss). Queries name the shape's colour and kind ("红色的圆", "a blue square"), in
    Chinese and English by turns of two, alternately the left and the right shape."""
    from search.explain import heat_map

    right = 0
    for i, case in enumerate(cases):
        which = i % 2
        shape = case.scenes[which]
        query = Scene(kind=shape.kind, colour=shape.colour)
        text = toyworld.caption(query, ("zh", "en")[i // 2 % 2])
        heat = heat_map(model, case.image, model.embed_text([text])[0].numpy(), method)
        row, col = np.unravel_index(heat.argmax(), heat.shape)
        cell = case.image.height // heat.shape[0]
        inside = np.s_[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell]
        right += case.masks[which][inside].sum() > case.masks[1 - which][inside].sum()
    return right / len(cases)


def peak_figure(
    model, n: int = 200, seed: int = SEEDS["peak"], method: str = "occlusion", **kwargs
) -> float:
    """`peak_on_shape` over `n` held-out two-shape pictures (`two_shapes(rng, **kwargs)`).
    Target: >= 0.8."""
    rng = np.random.default_rng(seed)
    return peak_on_shape(model, [two_shapes(rng, **kwargs) for _ in range(n)], method)
