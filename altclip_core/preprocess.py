"""Image preprocessing equal to transformers' `CLIPImageProcessor` (PIL path) for a checkpoint's
`preprocessor_config.json`, with two deliberate additions: EXIF orientation is applied first, and
transparent pixels are composited on white (transformers drops alpha: they turn black or noisy).
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, OverLimit

if TYPE_CHECKING:
    import torch

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_MEGAPIXELS = 100.0  # decoded pixels a file may claim; a guard against decompression bombs
MAX_FILE_MB = 200.0  # bytes read from one file at most
RESIZE_LIMIT = 64  # resize whole images up to this many crops of pixels (10 MB), see `one`


EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def image_extensions() -> set[str]:
    """The file extensions read here ({".jpg", ...}): the common formats, plus HEIC/HEIF where
    pillow-heif is installed (`pip install altclip-search[heif]`; registered with Pillow here) and
    AVIF where Pillow reads it (Pillow >= 11.2 built with libavif)."""
    from PIL import features

    found = set(EXTENSIONS)
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        found |= {".heic", ".heif"}
    except ImportError:
        pass
    if features.check("avif"):
        found.add(".avif")
    return found


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright 8-bit RGB: EXIF orientation applied, alpha on white, 16-bit and float scaled to
    8-bit."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit greyscale opens as I;16 or I: map 0..65535 onto 0..255 (convert() would clip).
        # A few rows at a time: float64 copies of a whole 100 MP image would take gigabytes.
        scale = 1.0 if image.mode == "F" else 1 / 257
        pixels = np.asarray(image)
        grey = np.empty(pixels.shape, np.uint8)
        for top in range(0, len(pixels), 256):
            rows = pixels[top : top + 256].astype(np.float64) * scale
            grey[top : top + 256] = np.clip(rows, 0, 255).round()
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


def open_image(
    source: str | Path | bytes,
    draft_edge: int | None = None,
    max_megapixels: float = MAX_MEGAPIXELS,
    max_file_mb: float = MAX_FILE_MB,
) -> Image.Image:
    """An image file (a path, or its bytes) as upright RGB; an ImageError that says why where it
    cannot be read. With `draft_edge`, a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8)
    whose shorter edge stays >= `draft_edge`: several times faster for large photos."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) > max_file_mb * 2**20:
            raise OverLimit(
                f"{_mb(len(source))} is over the limit of {max_file_mb:g} MB",
                "raise it with --max-file-mb if the photo is genuine",
            )
        file = io.BytesIO(source)
    else:
        file = open_file(source, max_file_mb)
    try:
        with file, Image.open(file) as image:
            check_size(image, max_megapixels)
            if draft_edge:
                draft(image, draft_edge)
            image.load()
            return to_rgb(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own limit, past ours where it is higher
        raise OverLimit(str(e).rstrip("."), "raise the limit with --max-megapixels") from None
    except Exception as e:  # Pillow raises many types for damaged files
        raise ImageError(image_problem(e)) from None


def open_file(path: str | Path, max_file_mb: float = MAX_FILE_MB) -> BinaryIO:
    """`path` opened for reading, if what is there now is a regular file within `max_file_mb`.

    Checked on the open descriptor, not the name: whatever replaced the file since it was found
    (a FIFO, a symlink to /dev/zero) is refused instead of blocking or reading without end, and
    opening never blocks (O_NONBLOCK: a FIFO would wait for a writer)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ImageError(f"cannot open it: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageError("not a regular file (a folder, device, FIFO or socket)")
        if st.st_size > max_file_mb * 2**20:
            raise OverLimit(
                f"{_mb(st.st_size)} is over the limit of {max_file_mb:g} MB",
                "raise it with --max-file-mb if the photo is genuine",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_size(image: Image.Image, max_megapixels: float = MAX_MEGAPIXELS) -> None:
    """Before `load()`: refuse an image whose header claims more pixels than the limit (a
    decompression bomb decodes a few bytes into gigabytes)."""
    w, h = image.size
    if w < 1 or h < 1:
        raise ImageError(f"the image is {w}x{h} pixels: there is nothing to see")
    if w * h > max_megapixels * 1e6:
        raise OverLimit(
            f"{w}x{h} is {w * h / 1e6:.0f} megapixels, over the limit of {max_megapixels:g}",
            "raise it with --max-megapixels if the image is genuine",
        )


def image_problem(e: Exception) -> str:
    """Why Pillow could not read a file, in one line."""
    if isinstance(e, Image.DecompressionBombError):
        return f"{e}: raise the limit with --max-megapixels if the image is genuine"
    if isinstance(e, UnidentifiedImageError):
        return "not an image, or a format Pillow cannot read"
    if isinstance(e, OSError) and "truncated" in str(e):
        return f"truncated or corrupt: {e}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f} MB" if size >= 2**20 else f"{size} bytes"


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
    def from_folder(cls, folder: str | Path) -> ImagePreprocessor:
        """A checkpoint folder's preprocessing: its preprocessor_config.json, else CLIP's at the
        vision tower's own resolution (a 336-pixel model must not be fed 224 pixels)."""
        folder = Path(folder)
        if (folder / "preprocessor_config.json").is_file():
            return cls.from_file(folder / "preprocessor_config.json")
        from .config import CLIPConfig
        from .families import family

        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        size = CLIPConfig.from_dict(raw, family(raw.get("model_type"))).vision_config.image_size
        return cls(shortest_edge=size, crop=(size, size))

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
        import torch  # here, so that the indexer's decoding and its checks need no torch

        images = [images] if isinstance(images, Image.Image) else images
        return torch.from_numpy(np.stack([self.one(to_rgb(im)) for im in images]))

    def one(self, image: Image.Image) -> np.ndarray:
        """One upright RGB image -> [3, H, W] float32."""
        return self.normalise(self.cropped(image))

    def cropped(self, image: Image.Image) -> np.ndarray:
        """One upright RGB image resized and cropped: [H, W, 3] uint8, a quarter of the float
        pixels it becomes (`normalise`), to keep or send between the two.

        Memory stays bounded by the crop, whatever the image's shape: where the resized image
        would hold more than RESIZE_LIMIT crops (an aspect ratio past 64:1; a 1x100000 PNG would
        be resized to 224x22400000, 15 GB, only to be cropped), only the part the crop keeps is
        resized. PIL's filter still reads the source around that part, so the pixels are those of
        the whole resize but for the rounding of PIL's intermediate pass (it may run its two
        passes in the other order); below the limit the whole image is resized, exactly as
        transformers does."""
        w, h = image.size
        if w < 1 or h < 1:
            raise ValueError(f"the image is {w}x{h} pixels: there is nothing to see")
        if self.shortest_edge:
            short, long = min(w, h), max(w, h)
            new_long = int(self.shortest_edge * long / short)  # truncation, as transformers does
            size = (self.shortest_edge, new_long) if w <= h else (new_long, self.shortest_edge)
        elif self.size:
            size = self.size[::-1]
        else:
            size = (w, h)
        left, top, right, bottom = _crop_box(size, self.crop)
        if size[0] * size[1] <= RESIZE_LIMIT * (right - left) * (bottom - top):
            if size != (w, h):
                image = image.resize(size, self.resample, reducing_gap=None)
        else:
            sx, sy = w / size[0], h / size[1]
            box = (left * sx, top * sy, right * sx, bottom * sy)  # the kept part, in the source
            image = image.resize((right - left, bottom - top), self.resample, box, None)
        x = np.asarray(image)  # [H, W, 3] uint8
        if self.crop:
            x = _center_crop(x, *self.crop)  # pads an image smaller than the crop
        return np.ascontiguousarray(x)

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """[H, W, 3] uint8 from `cropped` -> [3, H, W] float32, as the model takes it."""
        if self.rescale_factor is not None:  # in float64, then float32, as transformers does
            x = (x.astype(np.float64) * self.rescale_factor).astype(np.float32)
        x = x.astype(np.float32)
        if self.mean is not None:
            x = (x - np.array(self.mean, np.float32)) / np.array(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))  # [3, H, W]


def _crop_box(size: tuple[int, int], crop: tuple[int, int] | None) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) that a centre crop of (height, width) keeps of an image of
    `size` (width, height); all of it on a side shorter than the crop."""
    w, h = size
    if crop is None:
        return 0, 0, w, h
    ch, cw = crop
    top, left = max((h - ch) // 2, 0), max((w - cw) // 2, 0)
    return left, top, min(left + cw, w), min(top + ch, h)


def _center_crop(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop with floor offsets; an image smaller than the crop is padded with zeros first."""
    h, w = x.shape[:2]
    if h < height or w < width:
        ph, pw = max(height - h, 0), max(width - w, 0)
        x = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
        h, w = x.shape[:2]
    top, left = (h - height) // 2, (w - width) // 2
    return x[top : top + height, left : left + width]
