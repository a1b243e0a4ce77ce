"""What the model sees in one photo: where in it a query matches (a heat map, `heat`, from
search.explain) and which of some labels it shows (zero-shot, `label_probabilities`), with the
arguments `Library.explain` and `Library.classify` take checked."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from search.arguments import clean_query, photo_id, whole
from search.catalog import Catalog
from search.hits import Hit, SearchError


def heat(tower, image: Image.Image, vector: np.ndarray, method: str, grid: int | None):
    """`search.explain.heat_map` of `image` for the query `vector` by the image `tower`; a
    SearchError for a vector that is no query's, an unknown method or a grid that does not
    fit."""
    from search.explain import GRID, heat_map

    if vector.shape != (tower.dim,) or not np.isfinite(vector).all() or not vector.any():
        raise SearchError(f"the query vector must be {tower.dim} finite numbers, not all 0")
    try:
        return heat_map(tower, image, vector, method, GRID if grid is None else grid)
    except ValueError as e:  # an unknown method, a grid that does not fit the model
        raise SearchError(str(e)) from None


def stored_vector(
    catalog: Catalog, photo: Hit | int | str | Path | bytes | Image.Image
) -> np.ndarray | None:
    """The stored vector of a catalogued photo (a Hit, its id, or its absolute path), or None
    for any other image (to embed); a SearchError for an id that no photo with a vector has."""
    key = photo.id if isinstance(photo, Hit) else photo
    if whole(key):
        known = photo_id(key)
        stored = None if known is None else catalog.vector_of(known)
        if stored is None:
            raise SearchError(f"no photo {key!r:.40} with a vector in this library")
        return stored
    if isinstance(key, (str, Path)) and os.path.isabs(key):
        return catalog.vector_of(str(key))
    return None


def checked_labels(labels: list[str]) -> list[str]:
    """The labels, each as a query is made plain; a SearchError for none, or an empty one."""
    labels = [clean_query(label, "label") for label in labels]
    if not labels:
        raise SearchError("give at least one label, e.g. 猫 狗 海滩")
    return labels


def label_probabilities(
    text_tower, vector: np.ndarray, labels: list[str], template: str | list[str] | None
) -> list[tuple[str, float]]:
    """(label, probability) of the photo `vector` for each of `labels`, best first, summing to
    1: the text tower's zero-shot `classify`, `template` around each label."""
    try:
        probs = text_tower.classify(vector[None], labels, template)[0]
    except ValueError as e:  # a template without {}
        raise SearchError(str(e)) from None
    return sorted(zip(labels, probs.tolist(), strict=True), key=lambda x: -x[1])
