"""AltCLIP configuration, read from a Hugging Face `config.json` (`model_type: altclip`).

Field names keep the Hugging Face spellings so a checkpoint's config maps one to one. Defaults are
transformers' class defaults; the vision ones are ViT-B/32, never what a real checkpoint uses.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TextConfig:
    vocab_size: int = 250002
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    max_position_embeddings: int = 514
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    pad_token_id: int = 1
    type_vocab_size: int = 1
    project_dim: int = 768

    @property
    def max_tokens(self) -> int:
        """Longest input, special tokens included: RoBERTa positions start after the pad id."""
        return self.max_position_embeddings - self.pad_token_id - 1


@dataclass
class VisionConfig:
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 32
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5


@dataclass
class AltCLIPConfig:
    text_config: TextConfig = field(default_factory=TextConfig)
    vision_config: VisionConfig = field(default_factory=VisionConfig)
    projection_dim: int = 768
    logit_scale_init_value: float = 2.6592

    @classmethod
    def from_dict(cls, d: dict) -> AltCLIPConfig:
        # As in transformers: a legacy `*_config_dict` entry, completed with the class defaults,
        # overrides every field of `*_config`.
        text = d.get("text_config_dict") or d.get("text_config") or {}
        vision = d.get("vision_config_dict") or d.get("vision_config") or {}
        return cls(
            text_config=_build(TextConfig, text),
            vision_config=_build(VisionConfig, vision),
            **{k: d[k] for k in ("projection_dim", "logit_scale_init_value") if k in d},
        )

    @classmethod
    def from_file(cls, path: str | Path) -> AltCLIPConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _build(kind: type, d: dict):
    """Build a config dataclass from the known keys of `d`; unknown keys are ignored."""
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in d.items() if k in names and v is not None})
