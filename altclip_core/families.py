"""The families of the CLIP family, one record each: what a checkpoint's `model_type` builds, reads
and runs. Everything that differs between AltCLIP, OpenAI CLIP and Chinese-CLIP is here or in the
files a record names; a new family is one more record plus its text tower's file.

The records import no torch: `hub` reads them (which tokenizer files to download) in processes
that only check a model. The towers and tokenizer readers they name are imported when a model is
built.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from .config import (
    AltCLIPTextConfig,
    ChineseCLIPTextConfig,
    CLIPConfig,
    CLIPTextConfig,
    VisionConfig,
)
from .errors import CheckpointError


@dataclass(frozen=True)
class Family:
    """One `model_type`.

    Attributes:
        model_type: as config.json spells it.
        text_config: the config class its `text_config` fills (`config.py`).
        projection_dim: transformers' default, where config.json names none.
        text_tower: "module:Class" in altclip_core: the text tower, built with
            `(text_config, pooling)`, returning the pooled features `text_projection` takes.
        text_graph: "module:function" in altclip_core: the same tower as an ONNX graph, written
            with `(text_onnx.Graph, text_config)` (`text_onnx.py`), for the prepared tower.
        pooling: which token's last state stands for the text (`layers.pool`): "first" (<s> or
            [CLS]) or "end_of_text" (OpenAI CLIP's end-of-text token).
        tokenizer: "module:Class.reader" in altclip_core, called with `(folder, max_tokens)`.
        tokenizer_files: the files that reader reads, whichever of them the repo ships.
        text_prefixes, vision_prefixes: each tower's tensors in the checkpoint (its module and
            its projection, named as the model's attributes are); `shared` are read with either.
        vision_config, vision_tower: the image side, CLIP's ViT unless the family says otherwise.
        logits: how `classify` makes probabilities of `exp(logit_scale) * cosine`: "softmax"
            over the labels (CLIP's contrastive loss).
    """

    model_type: str
    text_config: type
    projection_dim: int
    text_tower: str
    text_graph: str
    pooling: str
    tokenizer: str
    tokenizer_files: tuple[str, ...]
    text_prefixes: tuple[str, ...] = ("text_model.", "text_projection.")
    vision_prefixes: tuple[str, ...] = ("vision_model.", "visual_projection.")
    shared: tuple[str, ...] = ("logit_scale",)
    vision_config: type = VisionConfig
    vision_tower: str = "vision:VisionTower"
    logits: str = "softmax"

    def build_text(self, config):
        """The text tower for `config` (on the current default device: meta while loading)."""
        return _find(self.text_tower)(config, self.pooling)

    def build_text_graph(self, graph, config) -> str:
        """The text tower for `config` written into `graph` (a `text_onnx.Graph`): the name of
        its pooled features."""
        return _find(self.text_graph)(graph, config)

    def build_vision(self, config):
        return _find(self.vision_tower)(config)

    def read_tokenizer(self, folder: Path, max_tokens: int):
        """The checkpoint's tokenizer: a `tokenizer.TextTokenizer`."""
        return _find(self.tokenizer)(folder, max_tokens)

    def tensors(self, towers: tuple[str, ...]) -> tuple[str, ...]:
        """The name prefixes of the tensors that `towers` ("text", "vision") need."""
        own = {"text": self.text_prefixes, "vision": self.vision_prefixes}
        return self.shared + sum((own[t] for t in towers), ())


FAMILIES: dict[str, Family] = {
    f.model_type: f
    for f in [
        Family(
            "altclip",
            text_config=AltCLIPTextConfig,
            projection_dim=768,
            text_graph="text_onnx:altclip",
            text_tower="text_altclip:AltCLIPTextTower",
            pooling="first",
            tokenizer="tokenizer:TextTokenizer.xlm_roberta",
            tokenizer_files=("tokenizer.json", "sentencepiece.bpe.model"),
        ),
        Family(
            "clip",
            text_config=CLIPTextConfig,
            projection_dim=512,
            text_graph="text_onnx:clip",
            text_tower="text_clip:CLIPTextTower",
            pooling="end_of_text",
            tokenizer="tokenizer:TextTokenizer.clip",
            tokenizer_files=(
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "vocab.json",
                "merges.txt",
            ),
        ),
        Family(
            "chinese_clip",
            text_config=ChineseCLIPTextConfig,
            projection_dim=512,
            text_graph="text_onnx:chinese_clip",
            text_tower="text_chinese_clip:ChineseCLIPTextTower",
            pooling="first",
            tokenizer="tokenizer:TextTokenizer.bert",
            tokenizer_files=(
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "vocab.txt",
            ),
        ),
    ]
}


def family(model_type: str | None) -> Family:
    """The record of `model_type`, or a CheckpointError that names those there are."""
    if model_type not in FAMILIES:
        raise CheckpointError(
            f"config.json names model_type {model_type!r}; supported: {', '.join(FAMILIES)}"
        )
    return FAMILIES[model_type]


def read_config(folder: Path) -> CLIPConfig:
    """The checkpoint's config.json, its family's fields filled; a CheckpointError where it
    cannot be read."""
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return CLIPConfig.from_dict(raw, family(raw.get("model_type")))
    except (OSError, json.JSONDecodeError, TypeError) as e:
        raise CheckpointError(f"unreadable config.json in {folder}: {e}") from e


def _find(ref: str):
    """The object a "module:Name.attr" reference names, the module in altclip_core."""
    module, _, path = ref.partition(":")
    found = importlib.import_module(f".{module}", __package__)
    for name in path.split("."):
        found = getattr(found, name)
    return found
