"""Chinese-CLIP's text tower (Yang et al. 2022), `text_model.*`: BERT with Chinese RoBERTa-wwm
weights and absolute positions. Parameter names are transformers' `modeling_chinese_clip.py`."""

from __future__ import annotations

import torch

from .bert import Bert
from .config import ChineseCLIPTextConfig
from .layers import pool


class ChineseCLIPTextTower(Bert):
    """The pooled token's last hidden state [B, D]. transformers builds this BERT without its tanh
    pooler (`add_pooling_layer=False`)."""

    def __init__(self, cfg: ChineseCLIPTextConfig, pooling: str):
        super().__init__(cfg)
        self.pooling = pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return pool(super().forward(input_ids, attention_mask), input_ids, self.pooling)
