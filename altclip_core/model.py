"""The CLIP family in one model: CLIP's ViT (Radford et al. 2021) beside the text tower of the
checkpoint's family: OpenAI CLIP's own, AltCLIP's XLM-R (Chen et al. 2022) or Chinese-CLIP's BERT
(Yang et al. 2022), each with its projection; and `load`, which builds one from a checkpoint folder
or hub id by the checkpoint's own parameter names, the family (`families.py`) read from
config.json's `model_type`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from . import cache, hub, kernels
from .config import CLIPConfig
from .errors import DeviceError
from .families import family, read_config
from .preprocess import ImagePreprocessor
from .texts import PROBABILITIES, batches, labelled
from .tokenizer import TextTokenizer
from .weights import load_into, read_tensors

TOWERS = ("text", "vision")
TEXT_ROWS = 16  # the rows of a text query (~16 tokens): the workload text kernels are timed at


class CLIP(nn.Module):
    """Both towers (or one): `encode_*` take model inputs, `embed_*` take strings and PIL images.
    Embeddings are float32 and L2-normalised, so a dot product is the cosine similarity."""

    def __init__(self, config: CLIPConfig, towers: Sequence[str] = TOWERS):
        super().__init__()
        self.config, self.towers = config, tuple(towers)
        self.family = family(config.model_type)
        if "text" in towers:
            self.text_model = self.family.build_text(config.text_config)
            self.text_projection = nn.Linear(
                config.text_config.embed_dim, config.projection_dim, bias=False
            )
        if "vision" in towers:
            self.vision_model = self.family.build_vision(config.vision_config)
            self.visual_projection = nn.Linear(
                config.vision_config.hidden_size, config.projection_dim, bias=False
            )
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.tokenizer: TextTokenizer | None = None
        self.preprocess: ImagePreprocessor | None = None
        self.kernels: dict[str, str] = {}  # tower -> the CPU linear kernel it runs (kernels.fit)

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
        """Token ids and mask [N, L] (tensors on any device, or arrays as the tokenizer's
        `encode` makes them) -> [N, dim] float32 on the model's device."""
        ids, mask = (torch.as_tensor(t, device=self.device) for t in (input_ids, attention_mask))
        x = self.text_projection(self.text_model(ids, mask))
        return F.normalize(x.float(), dim=-1)

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Pixels [N, 3, H, W] (on any device) -> [N, dim] float32 on the model's device."""
        x = self.visual_projection(self.vision_model(pixel_values.to(self.device, self.dtype)))
        return F.normalize(x.float(), dim=-1)

    def encode_patches(self, pixel_values: torch.Tensor, own_values: bool = False) -> torch.Tensor:
        """Where in the picture things are: each patch's token of the last layer, through the
        tower's final norm and the visual projection into the joint space, as `encode_image`
        takes the class token. Slower than `encode_image` (every token through the last layer).

        Args:
            pixel_values: [N, 3, H, W] as `preprocess` makes them, on any device.
            own_values: each patch token's last attention replaced by its own value, as in
                MaskCLIP (Zhou et al. 2022): the class token pools the patches' values, so a
                patch token through that path is that patch's part of the pool, where a patch
                token's own attention mixes in the whole picture.

        Returns:
            [N, grid, grid, dim] float32, L2-normalised, on the model's device; patches row by
            row as in the picture, grid = image_size // patch_size.
        """
        pixels = pixel_values.to(self.device, self.dtype)
        tokens = self.vision_model.tokens(pixels, values=own_values)  # [N, 1 + grid*grid, D]
        x = F.normalize(self.visual_projection(tokens[:, 1:]).float(), dim=-1)
        vision = self.config.vision_config
        grid = vision.image_size // vision.patch_size
        return x.view(len(x), grid, grid, self.dim)  # [N, grid, grid, dim]

    @torch.inference_mode()
    def embed_text(self, texts: str | Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """Texts -> [N, dim] float32 on the CPU, embedded in batches of texts of like length (a
        batch is padded to its longest)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.empty(len(texts), self.dim)
        for batch in batches(texts, batch_size):
            ids, mask = self.tokenizer([texts[j] for j in batch])
            out[batch] = self.encode_text(ids, mask).cpu()
        return out

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

    @torch.inference_mode()
    def embed_labels(
        self, labels: Sequence[str], template: str | Sequence[str] | None = None
    ) -> torch.Tensor:
        """Labels -> [L, dim] float32 on the CPU. With several templates, each label's normalised
        embeddings are averaged and normalised again (CLIP's prompt ensembling)."""
        texts, count = labelled(labels, template)
        emb = self.embed_text(texts).view(len(labels), count, self.dim)
        return F.normalize(emb.mean(dim=1), dim=-1)

    @torch.inference_mode()
    def classify(
        self,
        images: Image.Image | Sequence[Image.Image] | torch.Tensor | np.ndarray,
        labels: Sequence[str],
        template: str | Sequence[str] | None = None,
    ) -> torch.Tensor:
        """Zero-shot label probabilities, as transformers' `logits_per_image.softmax(dim=1)`.

        Args:
            images: PIL images, or their embeddings [N, dim] (such as a library's stored vectors:
                then the text tower alone is enough).
            labels: L labels, e.g. ["猫", "狗", "海滩"].
            template: a prompt with {} for the label ("a photo of {}", "一张{}的照片"), or a list
                of them to ensemble; None embeds the labels as they are.

        Returns:
            [N, L] float32 on the CPU: probabilities of exp(logit_scale) * cosine as the family
            makes them (softmax over labels for the CLIP family).
        """
        if isinstance(images, torch.Tensor | np.ndarray):
            image_emb = F.normalize(torch.as_tensor(images).float().cpu(), dim=-1)
        else:
            image_emb = self.embed_images(images)
        scale = self.logit_scale.float().exp().item()
        logits = scale * image_emb @ self.embed_labels(labels, template).T  # [N, L]
        return torch.from_numpy(PROBABILITIES[self.family.logits](logits.numpy()))


AltCLIP = CLIP  # its name while AltCLIP was the only family


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def usable_device(name: str | torch.device) -> torch.device:
    """`name` as a torch.device this machine has, or a DeviceError that names those it has."""
    there = ["cuda"] * torch.cuda.is_available() + ["mps"] * torch.backends.mps.is_available()
    there.append("cpu")
    has = f"this machine has {', '.join(there)}"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"{name!r} is not a device; {has}") from None
    if device.type == "meta":  # shapes without data, everywhere: for tests and tools
        return device
    count = torch.cuda.device_count() if device.type == "cuda" else 1
    if device.type not in there or (device.index or 0) >= count:
        raise DeviceError(f"there is no {device} here; {has}")
    return device


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


def _fit_kernels(model: CLIP, quantize: str | None) -> None:
    """Each tower's fastest linear kernel at its workload: one text query (TEXT_ROWS tokens),
    and an image batch of 8 (8 x the ViT's tokens)."""
    model.kernels = {}
    if "text" in model.towers:
        kernel = kernels.fit(model.text_model, TEXT_ROWS, quantize)
        model.text_projection = kernels.make(model.text_projection, kernel)
        model.kernels["text"] = kernel
    if "vision" in model.towers:
        tokens = model.config.vision_config.num_positions
        kernel = kernels.fit(model.vision_model, 8 * tokens, quantize)
        model.visual_projection = kernels.make(model.visual_projection, kernel)
        model.kernels["vision"] = kernel


def _cpu_has_bf16() -> bool:
    """Whether the CPU has bf16 matrix units: elsewhere (Apple silicon and others, whose flags
    this cannot read) torch runs bf16 matmuls slower than fp32."""
    return bool({"avx512_bf16", "amx_bf16"} & cache.cpu_flags())


def load(
    name: str | Path = hub.DEFAULT_MODEL,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    towers: Sequence[str] = TOWERS,
    quantize: str | None = None,
) -> CLIP:
    """Build a model of the CLIP family (config.json's `model_type`: a record of `families.py`)
    from a checkpoint folder or hub repo id, reading only the chosen towers' tensors.

    Args:
        name: a folder with config.json, weights and tokenizer, or a repo id such as
            "BAAI/AltCLIP", "openai/clip-vit-base-patch32", "OFA-Sys/chinese-clip-vit-base-patch16".
        device: defaults to cuda, then mps, then cpu.
        dtype: defaults to `default_dtype(device)`.
        towers: ("text",), ("vision",) or both.
        quantize: "int8" runs the linear layers in int8 (CPU only): faster, embeddings within
            a cosine of ~0.999 of the exact ones on random weights; check yours (the indexer's
            --int8 does). A search's text tower runs in int8 without torch: `prepared.py`.

    On CPU each tower's linear layers run the kernel `kernels.fit` measured fastest on this
    machine (`model.kernels` names them), which may pack their weights: to use another device or
    dtype, load again rather than calling `.to()`.
    """
    if not towers or set(towers) - set(TOWERS):
        raise ValueError(f"towers must be a non-empty subset of {TOWERS}, not {towers!r}")
    if quantize not in (None, "int8"):
        raise ValueError(f'quantize must be None or "int8", not {quantize!r}')
    folder = hub.resolve(name)
    config = read_config(folder)
    device = usable_device(device) if device is not None else default_device()
    if quantize and device.type != "cpu":
        raise ValueError(f"int8 runs on CPU only; on {device.type}, leave quantize=None")
    dtype = dtype or default_dtype(device)
    model = _read(folder, config, towers, device, dtype)
    if device.type == "cpu":
        _fit_kernels(model, quantize)
    if "text" in towers:
        model.tokenizer = model.family.read_tokenizer(folder, config.text_config.max_tokens)
    if "vision" in towers:
        model.preprocess = ImagePreprocessor.from_folder(folder)
    return model


def _read(
    folder: Path,
    config: CLIPConfig,
    towers: Sequence[str],
    device: torch.device,
    dtype: torch.dtype,
) -> CLIP:
    """The towers with the checkpoint's weights in `dtype`, their linear layers `nn.Linear`."""
    with torch.device("meta"):
        model = CLIP(config, towers)
    load_into(model, read_tensors(folder, model.family.tensors(tuple(towers))), dtype)
    return model.to(device).eval().requires_grad_(False)
