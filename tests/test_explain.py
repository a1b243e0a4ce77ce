"""Why a photo matched: the patch embeddings, heat maps and their overlay, on tiny random
checkpoints (numbers) and on the toy world (where the map's peak falls)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import altclip_core
from search.explain import heat_map, overlay
from tests import toydup, toyworld
from tests.toyworld import Scene


@pytest.fixture(scope="module")
def tiny_vision(tiny):
    return altclip_core.load(tiny, device="cpu", dtype=torch.float32, towers=("vision",))


@torch.inference_mode()
def test_patch_embeddings_match_transformers(checkpoint):
    """`encode_patches` equals transformers' patch tokens of the last layer, after the tower's
    post-layernorm (which transformers applies to the pooled token only) and the visual
    projection, normalised; row by row as in the picture."""
    folder, reference = checkpoint
    ours = altclip_core.load(folder, device="cpu", dtype=torch.float32, towers=("vision",))
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ref = reference.vision_model
    tokens = ref.post_layernorm(ref(pixel_values=pixels).last_hidden_state)[:, 1:]
    expected = F.normalize(reference.visual_projection(tokens), dim=-1)  # [2, grid*grid, dim]
    patches = ours.encode_patches(pixels)
    grid = 224 // ours.config.vision_config.patch_size
    assert patches.shape == (2, grid, grid, ours.dim)
    assert (patches.flatten(1, 2) - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize("method", ["occlusion", "tokens"])
@pytest.mark.parametrize("size", [(300, 200), (200, 300), (224, 224)])
def test_map_covers_the_photo(tiny, method, size):
    """Square cells over the whole photo, landscape or portrait, in the documented range; the
    overlay is a see-through layer of the photo's size."""
    model = altclip_core.load(tiny, device="cpu", dtype=torch.float32, towers=("vision",))
    rng = np.random.default_rng(2)
    photo = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    query = rng.normal(size=model.dim).astype(np.float32)
    heat = heat_map(model, photo, query, method, grid=7)
    cells = 7  # the patch grid of a 224-pixel, 32-pixel-patch tower, and grid=7
    w, h = size
    assert heat.shape == (round(h / min(size) * cells), round(w / min(size) * cells))
    assert heat.dtype == np.float32 and np.isfinite(heat).all()
    assert np.abs(heat).max() <= (2 if method == "occlusion" else 1)
    layer = overlay(heat, size)
    assert layer.mode == "RGBA" and layer.size == size
    alpha = np.asarray(layer)[..., 3]
    assert alpha.max() >= 0.9 * 255 * 0.7 if heat.max() > 0 else alpha.max() == 0


def test_a_map_of_nothing_is_clear():
    layer = overlay(np.full((4, 6), -0.1, np.float32), (60, 40))
    assert np.asarray(layer)[..., 3].max() == 0


def test_bad_grid_says_what_is_allowed(tiny_vision):
    with pytest.raises(ValueError, match="divide"):
        heat_map(tiny_vision, Image.new("RGB", (64, 64)), np.ones(16, np.float32), grid=5)


# -- the toy world --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy():
    return altclip_core.load(toyworld.model_folder(), device="cpu", dtype=torch.float32)


def test_peak_lies_on_the_queried_shape(toy):
    """Held-out two-shape pictures (seed 0 chose occlusion over patch tokens and the 2 x 2
    window): the map's peak lies on the shape the query names in >= 80% of them."""
    assert toydup.peak_figure(toy, n=60) >= 0.8


@pytest.fixture(scope="module")
def two_shape_library(tmp_path_factory, toy):
    """Six two-shape toy photos, one of them 3:2, indexed. Returns (Library, {photo id:
    TwoShapes})."""
    from indexer import Indexer
    from search import Library

    rng = np.random.default_rng(41)
    cases = [toydup.two_shapes(rng) for _ in range(6)]
    root = tmp_path_factory.mktemp("two-shapes")
    for i, case in enumerate(cases):
        case.image.save(root / f"{i}.png")
    folder = tmp_path_factory.mktemp("two-shapes-lib")
    Indexer(library=folder, model=str(toyworld.model_folder())).run([root])
    lib = Library.open(folder)
    ids = np.concatenate([ids for ids, _ in lib.catalog.vectors()]).tolist()
    return lib, {i: cases[int(p.path[-5])] for i, p in lib.catalog.photos(ids).items()}


def test_library_explains_a_hit(two_shape_library):
    """`Library.explain(hit, text)` maps the catalogued photo; the text or its vector give the
    same map; a date phrase in the text is left out, as `search` leaves it out."""
    lib, cases = two_shape_library
    hit = lib.search("a red shape", k=1)[0]
    shape = cases[hit.id].scenes[0]
    text = toyworld.caption(Scene(kind=shape.kind, colour=shape.colour), "en")
    heat = lib.explain(hit, text)
    assert heat.shape == (8, 8)
    assert np.allclose(heat, lib.explain(hit.id, lib.embed_text(text)), atol=1e-6)
    assert np.allclose(heat, lib.explain(hit, text + " from 2021"), atol=1e-6)
    tokens = lib.explain(hit, text, method="tokens")
    side = toyworld.IMAGE_SIZE // toyworld.PATCH  # the model's own patch grid
    assert tokens.shape == (side, side) and np.abs(tokens).max() <= 1


def test_library_explain_says_what_is_wrong(two_shape_library, toy):
    from search import SearchError

    lib, cases = two_shape_library
    photo = next(iter(cases))
    with pytest.raises(SearchError, match="not in this library"):
        lib.explain(10**6, "a red circle")
    with pytest.raises(SearchError, match="finite numbers"):
        lib.explain(photo, np.zeros(3, np.float32))
    with pytest.raises(SearchError, match="method"):
        lib.explain(photo, "a red circle", method="gradients")
    with pytest.raises(SearchError, match="grid must"):
        lib.explain(photo, "a red circle", grid=0)
    from search.explain import heat_map

    strip = Image.new("RGB", (4000, 10))  # 400 crops of passes, unexplained
    with pytest.raises(ValueError, match="4 times as long"):
        heat_map(toy, strip, lib.query_vector("a red circle"))
