"""Image preprocessing equal to transformers' `CLIPImageProcessor` (PIL path) for a checkpoint's
`preprocessor_config.json`, with two deliberate additions: EXIF orientation is applied first, and
transparent pixels are composited on white (transformers drops alpha: they turn black or noisy).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright 8-bit RGB: EXIF orientation applied, alpha on white, 16-bit and float scaled to
    8-bit."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit greyscale opens as I;16 or I: map 0..65535 onto 0..255 (convert() would clip).
        scale = 1.0 if image.mode == "F" else 1 / 257
        grey = np.clip(np.asarray(image, dtype=np.float64) * scale, 0, 255).round().astype(np.uint8)
        image = Image.fromarray(grey)  # uint8 [H, W] -> "L"
    if (
        image.mode == "P"
        and "transparency" in image.info
        or image.mode in ("RGBA", "LA", "PA", "RGBa", "La")
    ):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def open_image(path: str | Path, draft_edge: int | None = None) -> Image.Image:
    """Open an image file as upright RGB. With `draft_edge`, a JPEG is decoded at the smallest DCT
    scale (1/2, 1/4, 1/8) whose shorter edge stays >= `draft_edge`: several times faster for large
    photos."""
    with Image.open(path) as image:
        if draft_edge:
            draft(image, draft_edge)
        image.load()
        return to_rgb(image)


def draft(image: Image.Image, edge: int) -> None:
    """Before `load()`: decode a JPEG at the smallest DCT scale keeping its short edge >= edge."""
    if image.format == "JPEG":
        w, h = image.size
        scale = max(1.0, min(w, h) / edge)
        image.draft("RGB", (int(w / scale), int(h / scale)))


@dataclass
class ImagePreprocessor:
    """Callable: PIL images -> pixel_values [N, 3, crop_height, crop_width] float32."""

    shortest_edge: int | None = 224  # resize so the shorter side has this length...
    size: tuple[int, int] | None = None  # ...or to exactly (height, width)
    crop: tuple[int, int] | None = (224, 224)
    resample: int = Image.BICUBIC
    rescale_factor: float | None = 1 / 255
    mean: tuple[float, ...] | None = CLIP_MEAN
    std: tuple[float, ...] | None = CLIP_STD

    @classmethod
    def from_file(cls, path: str | Path) -> ImagePreprocessor:
        c = json.loads(Path(path).read_text(encoding="utf-8"))
        size, crop = c.get("size", 224), c.get("crop_size", 224)
        shortest, exact = None, None
        if c.get("do_resize", True):
            if isinstance(size, int) or "shortest_edge" in size:
                shortest = size if isinstance(size, int) else size["shortest_edge"]
            else:
                exact = (size["height"], size["width"])
        if isinstance(crop, int):
            crop = (crop, crop)
        elif crop is not None:
            crop = (crop["height"], crop["width"])
        normalize = c.get("do_normalize", True)
        return cls(
            shortest_edge=shortest,
            size=exact,
            crop=crop if c.get("do_center_crop", True) else None,
            resample=c.get("resample", Image.BICUBIC),
            rescale_factor=c.get("rescale_factor", 1 / 255) if c.get("do_rescale", True) else None,
            mean=tuple(c.get("image_mean", CLIP_MEAN)) if normalize else None,
            std=tuple(c.get("image_std", CLIP_STD)) if normalize else None,
        )

    def __call__(self, images: Image.Image | Sequence[Image.Image]) -> torch.Tensor:
        images = [images] if isinstance(images, Image.Image) else images
        return torch.from_numpy(np.stack([self.one(to_rgb(im)) for im in images]))

    def one(self, image: Image.Image) -> np.ndarray:
        """One upright RGB image -> [3, H, W] float32."""
        if self.shortest_edge:
            w, h = image.size
            short, long = min(w, h), max(w, h)
            new_long = int(self.shortest_edge * long / short)  # truncation, as transformers does
            size = (self.shortest_edge, new_long) if w <= h else (new_long, self.shortest_edge)
            image = image.resize(size, self.resample, reducing_gap=None)
        elif self.size:
            image = image.resize(self.size[::-1], self.resample, reducing_gap=None)
        x = np.asarray(image)  # [H, W, 3] uint8
        if self.crop:
            x = _center_crop(x, *self.crop)
        if self.rescale_factor is not None:  # in float64, then float32, as transformers does
            x = (x.astype(np.float64) * self.rescale_factor).astype(np.float32)
        x = x.astype(np.float32)
        if self.mean is not None:
            x = (x - np.array(self.mean, np.float32)) / np.array(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))  # [3, H, W]


def _center_crop(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop with floor offsets; an image smaller than the crop is padded with zeros first."""
    h, w = x.shape[:2]
    if h < height or w < width:
        ph, pw = max(height - h, 0), max(width - w, 0)
        x = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
        h, w = x.shape[:2]
    top, left = (h - height) // 2, (w - width) // 2
    return x[top : top + height, left : left + width]
