"""AltCLIP in plain PyTorch: load the published checkpoints by their own parameter names and embed
text (any language XLM-R knows) and images into one normalised space.

    import altclip_core
    model = altclip_core.load("BAAI/AltCLIP")
    model.embed_text(["一只猫", "a photo of a dog"]) @ model.embed_images([image]).T
"""

from __future__ import annotations

from .config import AltCLIPConfig, TextConfig, VisionConfig
from .errors import AltCLIPError, CheckpointError, ModelNotFound
from .model import AltCLIP, default_device, default_dtype, load
from .preprocess import ImagePreprocessor, open_image, to_rgb
from .tokenizer import TextTokenizer

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
