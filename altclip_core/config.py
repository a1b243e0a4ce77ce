"""Configuration of the CLIP family, read from a Hugging Face `config.json`: its `model_type` names
the family (`families.py`: altclip, clip, chinese_clip), which says which text config it reads. The
vision tower is CLIP's ViT for all three; the text configs differ.

Field names keep the Hugging Face spellings so a checkpoint's config maps one to one. Defaults are
transformers' class defaults (the vision ones are ViT-B/32): a real checkpoint's config says more.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


class TextConfig:
    """The base of the text configs: what load and the model ask of each, and the usual answers."""

    @property
    def embed_dim(self) -> int:
        """Width of the pooled output, the input of `text_projection`."""
        return self.hidden_size

    @property
    def max_tokens(self) -> int:
        """Longest input, special tokens included."""
        return self.max_position_embeddings


@dataclass
class AltCLIPTextConfig(TextConfig):
    """XLM-RoBERTa with AltCLIP's `transformation` head."""

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
    def embed_dim(self) -> int:
        return self.project_dim

    @property
    def max_tokens(self) -> int:
        """RoBERTa positions start after the pad id."""
        return self.max_position_embeddings - self.pad_token_id - 1


@dataclass
class CLIPTextConfig(TextConfig):
    """OpenAI CLIP's causal text transformer."""

    vocab_size: int = 49408
    hidden_size: int = 512
    intermediate_size: int = 2048
    num_hidden_layers: int = 12
    num_attention_heads: int = 8
    max_position_embeddings: int = 77
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    eos_token_id: int = 49407  # 2 in configs older than transformers PR #24773: see CLIPTextTower


@dataclass
class ChineseCLIPTextConfig(TextConfig):
    """BERT (Chinese RoBERTa-wwm weights, BERT's architecture and absolute positions)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    max_position_embeddings: int = 512
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    type_vocab_size: int = 2


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

    @property
    def num_patches(self) -> int:
        """Patches the image is cut into, as transformers' `CLIPVisionEmbeddings` counts them."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def num_positions(self) -> int:
        """Tokens through the tower: the class token, then the patches."""
        return self.num_patches + 1


@dataclass
class CLIPConfig:
    model_type: str = "altclip"
    text_config: TextConfig = field(default_factory=AltCLIPTextConfig)
    vision_config: VisionConfig = field(default_factory=VisionConfig)
    projection_dim: int = 768
    logit_scale_init_value: float = 2.6592

    @classmethod
    def from_dict(cls, d: dict, family) -> CLIPConfig:
        """`d` as config.json holds it, read as `family` says (`families.family(d["model_type"])`:
        its config classes and default projection_dim)."""
        return cls(
            model_type=family.model_type,
            text_config=_build(family.text_config, _tower_dict(d, "text")),
            vision_config=_build(family.vision_config, _tower_dict(d, "vision")),
            projection_dim=d.get("projection_dim", family.projection_dim),
            **{k: d[k] for k in ("logit_scale_init_value",) if k in d},
        )


def _tower_dict(d: dict, tower: str) -> dict:
    """As transformers reads it: a legacy `*_config_dict` entry, completed with the class defaults,
    overrides every field of `*_config`."""
    legacy = d.get(f"{tower}_config_dict")
    return legacy if legacy is not None else d.get(f"{tower}_config") or {}


def _build(kind: type, d: dict):
    """Build a config dataclass from the known keys of `d`; unknown keys are ignored."""
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in d.items() if k in names and v is not None})
