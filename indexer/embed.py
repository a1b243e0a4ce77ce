"""The embed stage: decoded pixels in, image vectors (float32, L2-normalised) out, through the image
tower alone, in batches.

What it guarantees:
- A model that cannot embed (a damaged or truncated checkpoint, one that gives NaN) is found by
  `probe` and is an IndexerError before the library is changed.
- Identical files in a batch are computed once.
- --int8 never degrades a library silently: the first batch's first INT8_CHECKED photos are
  embedded both ways, and the int8 tower is used only where its minimum cosine to the exact one
  is at least cache.INT8_MIN_COSINE (random test weights cannot tell how far int8 moves a
  model: the error depends on the weights); otherwise a warning, and the exact tower.
- On CUDA, in the model's default dtype (bf16, else fp16), from pinned host memory, in batches
  sized to a quarter of the card's free memory (`cuda_batch`), capped so that what a kill loses
  stays small.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from altclip_core.errors import AltCLIPError
from altclip_core.preprocess import ImagePreprocessor, image_problem

from .decode import Decoded
from .errors import IndexerError

INT8_CHECKED = 4  # photos embedded both ways on the first batch


class Embedder:
    """The image tower, loaded on first need, on `device` (default: the fastest there is); it
    cuts what it is given into batches sized to the card (`cuda_batch`) on CUDA."""

    def __init__(
        self,
        folder: Path,
        device: str | None = None,
        int8: bool = False,
        warn: Callable[[str], None] = print,
    ):
        self.folder, self.device, self.warn, self.model = folder, device, warn, None
        self.check_int8, self.int8_cosine = int8, None
        self.quantized: str | None = None  # "int8" once its check passed: loaded so again
        self.batch: int | None = None  # rows per forward pass; None: all it is given (CPU)

    def probe(self) -> int:
        """Load the model and embed one image; its dimension. A model that cannot (a damaged or
        truncated checkpoint) is an IndexerError, raised before the library is changed."""
        import torch

        try:
            grey = Image.new("RGB", (256, 256), "grey")
            pixels = torch.from_numpy(self.preprocess.one(grey))
            vector = self._model().encode_image(pixels[None])
            if not torch.isfinite(vector).all():
                raise ValueError("it embeds an image as NaN or infinity")
        except AltCLIPError:
            raise
        except Exception as e:
            raise _unusable(self.folder, e) from None
        return vector.shape[-1]

    def embed(self, batch: list[Decoded]) -> None:
        """Set the `vector` of each decoded file that has pixels (and drop the pixels);
        identical files in the batch are computed once."""
        fresh: dict[str, Decoded] = {}
        for d in batch:
            if d.pixels is not None:
                fresh.setdefault(d.sha256, d)
        if fresh:
            import torch

            normalise = self.preprocess.normalise
            pixels = torch.from_numpy(np.stack([normalise(d.pixels) for d in fresh.values()]))
            if self.check_int8:
                self._to_int8(pixels[:INT8_CHECKED])
            vectors = self.encode(pixels)
            for d, v in zip(fresh.values(), vectors, strict=True):
                d.vector = v.tobytes()
        for d in batch:
            if d.pixels is not None:
                d.vector, d.pixels = fresh[d.sha256].vector, None

    def encode(self, pixels) -> np.ndarray:
        """Pixels [N, 3, H, W] float32 on the CPU -> [N, dim] float32 numpy."""
        import torch

        model = self._model()
        if model.device.type != "cuda":
            with torch.inference_mode():
                return model.encode_image(pixels).cpu().numpy()
        if self.batch is None:
            free, _ = torch.cuda.mem_get_info(model.device)
            self.batch = cuda_batch(free, model.config.vision_config, model.dtype.itemsize)
        out = []
        with torch.inference_mode():
            for chunk in pixels.split(self.batch):
                # From pinned pages the copy is one DMA transfer; .cpu() then waits for the
                # result, so copies and compute do not overlap yet (unmeasured: no GPU here).
                x = chunk.pin_memory().to(model.device, non_blocking=True)
                out.append(model.encode_image(x).cpu())
        return torch.cat(out).numpy()

    @functools.cached_property
    def preprocess(self) -> ImagePreprocessor:
        return ImagePreprocessor.from_folder(self.folder)

    def release(self) -> None:
        """Let the model go (a watcher idle for a while); the next batch loads it again."""
        self.model = None
        gc.collect()

    def _model(self, quantize: str | None = None):
        if self.model is None or quantize:
            import altclip_core

            try:
                model = altclip_core.load(
                    self.folder,
                    device=self.device,
                    towers=("vision",),
                    quantize=quantize or self.quantized,
                )
            except AltCLIPError:
                raise
            except Exception as e:  # a damaged weights file raises whatever its reader raises
                raise _unusable(self.folder, e) from None
            if quantize:
                return model
            self.model = model
        return self.model

    def _to_int8(self, pixels) -> None:
        """Switch to the int8 model if it embeds these photos within cache.INT8_MIN_COSINE of
        the exact one: int8 error depends on the weights, which random test weights cannot tell."""
        from altclip_core.cache import INT8_MIN_COSINE

        self.check_int8 = False
        try:
            int8 = self._model("int8")
        except ValueError as e:  # not on CPU
            self.warn(f"--int8 is ignored: {e}")
            return
        exact = self._model().encode_image(pixels)
        cosine = self.int8_cosine = float((exact * int8.encode_image(pixels)).sum(-1).min())
        if cosine < INT8_MIN_COSINE:
            self.warn(
                f"int8 moves this model's embeddings too far (minimum cosine {cosine:.4f} < "
                f"{INT8_MIN_COSINE} on {len(pixels)} photos): indexing with the exact model"
            )
        else:
            self.model, self.quantized = int8, "int8"


def cuda_batch(free_bytes: int, vision, itemsize: int, most: int = 1024) -> int:
    """Images per forward pass that fit a quarter of the card's free memory: a power of two,
    from 8 to `most`. Inference keeps one layer's activations alive at a time; with the MLP's
    4x widening and the attention's q, k, v and output, ~12 numbers per token and channel
    (flash attention: no tokens x tokens matrix). ViT-L/14 at 224 px in bf16: 6.3 MB an image.
    Larger batches stop paying once the card is busy; `most` keeps the latency of one batch
    (and what a kill loses) small."""
    tokens = vision.num_positions
    per_image = 12 * tokens * vision.hidden_size * itemsize
    fits = max(free_bytes // 4 // per_image, 1)
    return max(8, min(most, 1 << (int(fits).bit_length() - 1)))


def _unusable(folder: Path, e: Exception) -> IndexerError:
    return IndexerError(
        f"the model in {folder} cannot embed images ({image_problem(e)}); the library is "
        "unchanged: copy the model folder again, or name another with --model"
    )
