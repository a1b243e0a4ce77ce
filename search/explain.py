"""Why a photo matched: a heat map of where in the photo the query is, and an overlay to show it.

Two ways to make the map, both read off the model as it is (no training, no gradients):

- "occlusion" (the default): the photo is cut into a grid of cells; each 2 x 2 block of cells in
  turn is painted over with the photo's mean colour, and a cell's value is how much the photo's
  cosine with the query falls, averaged over the blocks that hide it (Zeiler & Fergus 2014). It
  costs (grid - 1)² passes of the image tower per square crop (49 at grid 8) and asks nothing of
  the model but its embedding, so it shows what the score rests on. On the toy world its peak
  lies on the queried shape in 86% of two-shape pictures (tests/test_explain.py).
- "tokens": every patch token of the tower's last layer, each attending to itself alone (its own
  value, as in MaskCLIP, Zhou et al. 2022), through the final norm and the visual projection, as
  a cosine with the query. One pass, at the model's own patch grid; only as good as the model's
  patch tokens are local (on the toy world 40%, where a patch's own attention is worse still:
  22%), so it is the quick look, not the default.

A photo that is not square is covered by square crops side by side (two for 4:3 and 16:9), each
the size the model sees, as the model would see a centre crop; the cells where crops overlap
average them. The map's cells are square, in rows and columns over the whole photo.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image

GRID = 8  # cells along the side of one square crop
WINDOW = 2  # cells hidden at a time, along each side
METHODS = ("occlusion", "tokens")
MAX_CROPS = 4  # square crops side by side at most: panoramas up to 4:1


def heat_map(
    model,
    image: Image.Image,
    query: np.ndarray,
    method: str = "occlusion",
    grid: int = GRID,
    batch_size: int = 64,
) -> np.ndarray:
    """Where in `image` the model finds `query`.

    Args:
        model: an `altclip_core` model with its vision tower.
        image: the photo, upright RGB.
        query: the query's vector [dim] (a text's, a photo's, or a mix), normalised here.
        method: "occlusion" or "tokens" (see the module's docstring).
        grid: cells along the side of one crop for "occlusion" (a divisor of the model's image
            size); "tokens" has the model's patch grid.
        batch_size: occluded crops run through the tower at a time.

    Returns:
        [rows, cols] float32 over the whole photo, row 0 at its top, one cell per square of
        side `min(width, height) / grid`. "occlusion": the fall of the photo's cosine with the
        query when the cell is hidden, in [-2, 2] and in practice within ±0.3, > 0 where the cell
        supports the match; "tokens": each cell's cosine with the query, in [-1, 1], higher where
        the query is.
    """
    import torch

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    vision = model.config.vision_config
    side = vision.image_size
    if method == "tokens":
        grid = side // vision.patch_size
    if grid < WINDOW or side % grid:
        raise ValueError(f"grid must divide the model's image size {side} and be >= {WINDOW}")
    q = torch.as_tensor(np.asarray(query, np.float32))
    q = q / q.norm()
    crops, offsets, shape = _crops(image.convert("RGB"), side, side // grid)
    # The model's own rescaling and normalisation, without its resize and crop (done above).
    pixels = dataclasses.replace(model.preprocess, shortest_edge=None, size=None, crop=None)(crops)
    with torch.inference_mode():
        if method == "tokens":  # the patch tokens' own values (see the module's docstring)
            patches = model.encode_patches(pixels, own_values=True)  # [crops, grid, grid, dim]
            maps = (patches @ q.to(patches.device)).cpu().numpy()
        else:
            maps = [_occlusion(model, x, q, grid, batch_size) for x in pixels]
    heat, count = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    for one, (top, left) in zip(maps, offsets, strict=True):
        heat[top : top + grid, left : left + grid] += one
        count[top : top + grid, left : left + grid] += 1
    return heat / count


def overlay(
    heat: np.ndarray,
    size: tuple[int, int],
    colour: tuple[int, int, int] = (255, 60, 0),
    opacity: float = 0.7,
) -> Image.Image:
    """A heat map as a see-through layer to lay over its photo: `colour`, as opaque as the cell's
    share of the map's highest value (cells at or below 0 clear), smoothed to `size`.

    Args:
        heat: a map from `heat_map`.
        size: (width, height) of the photo as shown.
        colour: the colour of the hottest cells.
        opacity: the alpha of the hottest cells, 0-1.

    Returns:
        An RGBA image of `size`: `Image.alpha_composite(photo.convert("RGBA"), layer)` shows it.
    """
    hot = np.clip(np.nan_to_num(np.asarray(heat, np.float32)), 0, None)
    top = float(hot.max()) if hot.size else 0.0
    share = hot / top if top > 0 else hot * 0
    alpha = Image.fromarray(share.astype(np.float32), "F").resize(size, Image.BILINEAR)
    alpha = np.clip(np.asarray(alpha) * 255 * opacity, 0, 255).astype(np.uint8)
    layer = Image.new("RGBA", size, (*colour, 0))
    layer.putalpha(Image.fromarray(alpha, "L"))
    return layer


def _crops(
    image: Image.Image, side: int, cell: int
) -> tuple[list[Image.Image], list[tuple[int, int]], tuple[int, int]]:
    """The photo resized so its shorter side is `side` and its longer one a whole number of
    cells, as square crops of `side` that cover it. Returns (crops, (row, col) of each crop's
    first cell, (rows, cols) of cells over the photo)."""
    w, h = image.size
    short = min(w, h)
    if max(w, h) > MAX_CROPS * short:  # each crop costs passes of the tower, and memory
        raise ValueError(f"a photo over {MAX_CROPS} times as long as it is wide is not explained")
    long_cells = max(side // cell, round(max(w, h) * side / short / cell))
    long = long_cells * cell
    width, height = (long, side) if w >= h else (side, long)
    resized = image.resize((width, height), Image.BICUBIC, reducing_gap=None)
    n = math.ceil(long / side)
    starts = np.round(np.linspace(0, long_cells - side // cell, n)).astype(int).tolist()
    crops, offsets = [], []
    for start in starts:
        at = start * cell
        box = (at, 0, at + side, side) if w >= h else (0, at, side, at + side)
        crops.append(resized.crop(box))
        offsets.append((0, start) if w >= h else (start, 0))
    return crops, offsets, (height // cell, width // cell)


def _occlusion(model, pixels, q, grid: int, batch_size: int) -> np.ndarray:
    """[grid, grid] fall of the crop's cosine with `q` when each cell is hidden, for one crop
    [3, S, S]."""
    import torch

    cell, n = pixels.shape[-1] // grid, grid - WINDOW + 1
    fill = pixels.mean(dim=(1, 2), keepdim=True)  # the crop's mean colour: [3, 1, 1]
    hidden = pixels.expand(n * n, -1, -1, -1).clone()  # [n*n, 3, S, S]
    for r in range(n):
        for c in range(n):
            hidden[r * n + c, :, r * cell : (r + WINDOW) * cell, c * cell : (c + WINDOW) * cell] = (
                fill
            )
    q = q.to(model.device)
    base = model.encode_image(pixels[None])[0] @ q
    batches = range(0, len(hidden), batch_size)
    scores = torch.cat([model.encode_image(hidden[i : i + batch_size]) @ q for i in batches])
    drop = (base - scores).view(n, n).cpu().numpy()
    heat, count = np.zeros((grid, grid), np.float32), np.zeros((grid, grid), np.float32)
    for r in range(n):
        for c in range(n):
            heat[r : r + WINDOW, c : c + WINDOW] += drop[r, c]
            count[r : r + WINDOW, c : c + WINDOW] += 1
    return heat / count
