"""The CLIP family in plain PyTorch: AltCLIP, OpenAI CLIP and Chinese-CLIP, loaded from their
published checkpoints by their own parameter names, embed text and images into one normalised space.

    import altclip_core
    model = altclip_core.load("BAAI/AltCLIP")  # or openai/clip-vit-base-patch32, OFA-Sys/...
    model.embed_text(["一只猫", "a photo of a dog"]) @ model.embed_images([image]).T
    model.classify([image], ["猫", "狗", "海滩"], template="一张{}的照片")  # [1, 3] probabilities
    model.encode_patches(model.preprocess([image]))  # [1, grid, grid, dim]: where things are
    # A search's text tower: int8, run by ONNX Runtime without torch, kept in the cache folder.
    from altclip_core import prepared
    prepared.keep(prepared.make(folder, hub.fingerprint(folder)))  # then prepared.load(...)

A model is `load`ed with one or both towers; besides the verbs above it has `tokenizer`,
`preprocess` and `dim`. What differs between families is one `Family` record each (`families.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Attributes load on first use, so that `altclip_core.hub` (used to check a library's model)
# does not pay for importing torch.
_EXPORTS = {
    "AltCLIPTextConfig": "config",
    "ChineseCLIPTextConfig": "config",
    "CLIPConfig": "config",
    "CLIPTextConfig": "config",
    "TextConfig": "config",
    "VisionConfig": "config",
    "AltCLIPError": "errors",
    "CheckpointError": "errors",
    "ModelNotFound": "errors",
    "FAMILIES": "families",
    "Family": "families",
    "family": "families",
    "AltCLIP": "model",
    "CLIP": "model",
    "default_device": "model",
    "default_dtype": "model",
    "load": "model",
    "ImagePreprocessor": "preprocess",
    "open_image": "preprocess",
    "to_rgb": "preprocess",
    "TextTokenizer": "tokenizer",
}
__all__ = [
    "AltCLIP",
    "AltCLIPError",
    "AltCLIPTextConfig",
    "CLIP",
    "CLIPConfig",
    "CLIPTextConfig",
    "CheckpointError",
    "ChineseCLIPTextConfig",
    "FAMILIES",
    "Family",
    "ImagePreprocessor",
    "ModelNotFound",
    "TextConfig",
    "TextTokenizer",
    "VisionConfig",
    "default_device",
    "default_dtype",
    "family",
    "load",
    "open_image",
    "to_rgb",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'altclip_core' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


if TYPE_CHECKING:
    from .config import (
        AltCLIPTextConfig,
        ChineseCLIPTextConfig,
        CLIPConfig,
        CLIPTextConfig,
        TextConfig,
        VisionConfig,
    )
    from .errors import AltCLIPError, CheckpointError, ModelNotFound
    from .families import FAMILIES, Family, family
    from .model import CLIP, AltCLIP, default_device, default_dtype, load
    from .preprocess import ImagePreprocessor, open_image, to_rgb
    from .tokenizer import TextTokenizer
