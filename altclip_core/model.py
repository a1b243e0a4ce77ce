"""AltCLIP (Chen et al. 2022, "AltCLIP: Altering the Language Encoder in CLIP").

The two towers with their projections, and `load`, which builds the model from a checkpoint folder
or hub id by the checkpoint's own parameter names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from . import hub
from .config import AltCLIPConfig
from .errors import CheckpointError
from .layers import pack_linears
from .preprocess import ImagePreprocessor
from .text import TextTower
from .tokenizer import TextTokenizer
from .vision import VisionTower
from .weights import load_into, read_tensors

TOWERS = ("text", "vision")


class AltCLIP(nn.Module):
    """Both towers (or one): `encode_*` take model inputs, `embed_*` take strings and PIL images.
    Embeddings are float32 and L2-normalised, so a dot product is the cosine similarity."""

    def __init__(self, config: AltCLIPConfig, towers: Sequence[str] = TOWERS):
        super().__init__()
        self.config, self.towers = config, tuple(towers)
        if "text" in towers:
            self.text_model = TextTower(config.text_config)
            self.text_projection = nn.Linear(
                config.text_config.project_dim, config.projection_dim, bias=False
            )
        if "vision" in towers:
            self.vision_model = VisionTower(config.vision_config)
            self.visual_projection = nn.Linear(
                config.vision_config.hidden_size, config.projection_dim, bias=False
            )
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.tokenizer: TextTokenizer | None = None
        self.preprocess: ImagePreprocessor | None = None

    @property
    def dim(self) -> int:
        return self.config.projection_dim

    @property
    def device(self) -> torch.device:
        return self.logit_scale.device

    @property
    def dtype(self) -> torch.dtype:
        return self.logit_scale.dtype

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids and mask [N, L] (on any device) -> [N, dim] float32 on the model's device."""
        ids, mask = input_ids.to(self.device), attention_mask.to(self.device)
        x = self.text_projection(self.text_model(ids, mask))
        return F.normalize(x.float(), dim=-1)

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Pixels [N, 3, H, W] (on any device) -> [N, dim] float32 on the model's device."""
        x = self.visual_projection(self.vision_model(pixel_values.to(self.device, self.dtype)))
        return F.normalize(x.float(), dim=-1)

    @torch.inference_mode()
    def embed_text(self, texts: str | Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """Texts in any language XLM-R knows -> [N, dim] float32 on the CPU."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = []
        for i in range(0, len(texts), batch_size):
            ids, mask = self.tokenizer(texts[i : i + batch_size])
            out.append(self.encode_text(ids, mask).cpu())
        return torch.cat(out) if out else torch.empty(0, self.dim)

    @torch.inference_mode()
    def embed_images(
        self, images: Image.Image | Sequence[Image.Image], batch_size: int = 16
    ) -> torch.Tensor:
        """PIL images of any mode and size -> [N, dim] float32 on the CPU."""
        images = [images] if isinstance(images, Image.Image) else list(images)
        out = []
        for i in range(0, len(images), batch_size):
            pixels = self.preprocess(images[i : i + batch_size])
            out.append(self.encode_image(pixels).cpu())
        return torch.cat(out) if out else torch.empty(0, self.dim)


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    """The fastest dtype whose embeddings stay within cosine 0.999 of float32 (bench/model.py
    measures it): bf16 where the hardware has bf16 matrix units, fp16 on MPS, else float32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    if device.type == "cpu" and _cpu_has_bf16():
        return torch.bfloat16
    return torch.float32


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except (
        OSError
    ):  # not Linux: Apple silicon and others run bf16 matmuls slower than fp32 in torch
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load(
    name: str | Path = hub.DEFAULT_MODEL,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    towers: Sequence[str] = TOWERS,
) -> AltCLIP:
    """Build AltCLIP from a checkpoint folder or hub repo id, reading only the chosen towers'
    tensors.

    Args:
        name: a folder with config.json, weights and tokenizer, or a repo id such as "BAAI/AltCLIP".
        device: defaults to cuda, then mps, then cpu.
        dtype: defaults to `default_dtype(device)`.
        towers: ("text",), ("vision",) or both.

    On CPU the linear layers come packed for oneDNN (`layers.PackedLinear`): to use another device
    or dtype, load again rather than calling `.to()`.
    """
    if not towers or set(towers) - set(TOWERS):
        raise ValueError(f"towers must be a non-empty subset of {TOWERS}, not {towers!r}")
    folder = hub.resolve(name)
    try:
        config = AltCLIPConfig.from_file(folder / "config.json")
    except (OSError, json.JSONDecodeError, TypeError) as e:
        raise CheckpointError(f"unreadable config.json in {folder}: {e}") from e
    device = torch.device(device) if device is not None else default_device()
    dtype = dtype or default_dtype(device)
    with torch.device("meta"):
        model = AltCLIP(config, towers)
    prefixes = {
        "text": ("text_model.", "text_projection."),
        "vision": ("vision_model.", "visual_projection."),
    }
    names = ("logit_scale",) + sum((prefixes[t] for t in towers), ())
    load_into(model, read_tensors(folder, names), dtype)
    model.to(device).eval().requires_grad_(False)
    if device.type == "cpu" and dtype in (torch.float32, torch.bfloat16):
        pack_linears(model)
    if "text" in towers:
        model.tokenizer = TextTokenizer.from_folder(folder, config.text_config.max_tokens)
    if "vision" in towers:
        pre = folder / "preprocessor_config.json"
        model.preprocess = (
            ImagePreprocessor.from_file(pre) if pre.is_file() else ImagePreprocessor()
        )
    return model
