"""AltCLIP in plain PyTorch: load the published checkpoints by their own parameter names and embed
text (any language XLM-R knows) and images into one normalised space.

    import altclip_core
    model = altclip_core.load("BAAI/AltCLIP")
    model.embed_text(["一只猫", "a photo of a dog"]) @ model.embed_images([image]).T
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Attributes load on first use, so that `altclip_core.hub` (used to check a library's model)
# does not pay for importing torch.
_EXPORTS = {
    "AltCLIPConfig": "config",
    "TextConfig": "config",
    "VisionConfig": "config",
    "AltCLIPError": "errors",
    "CheckpointError": "errors",
    "ModelNotFound": "errors",
    "AltCLIP": "model",
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
    "AltCLIPConfig",
    "AltCLIPError",
    "CheckpointError",
    "ImagePreprocessor",
    "ModelNotFound",
    "TextConfig",
    "TextTokenizer",
    "VisionConfig",
    "default_device",
    "default_dtype",
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
    from .config import AltCLIPConfig, TextConfig, VisionConfig
    from .errors import AltCLIPError, CheckpointError, ModelNotFound
    from .model import AltCLIP, default_device, default_dtype, load
    from .preprocess import ImagePreprocessor, open_image, to_rgb
    from .tokenizer import TextTokenizer
