"""AltCLIP's text tower (Chen et al. 2022), `text_model.*`: XLM-RoBERTa, then `pre_LN` and
`transformation` on the pooled token. Parameter names are transformers' `modeling_altclip.py`."""

from __future__ import annotations

import torch
from torch import nn

from .bert import Bert
from .config import AltCLIPTextConfig
from .layers import pool


class AltCLIPTextTower(nn.Module):
    """XLM-R, then the pooled token's `project_dim` state [B, project_dim]."""

    def __init__(self, cfg: AltCLIPTextConfig, pooling: str):
        super().__init__()
        self.pooling = pooling
        self.roberta = Bert(cfg, roberta_positions=True)
        self.pre_LN = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.transformation = nn.Linear(cfg.hidden_size, cfg.project_dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.roberta(input_ids, attention_mask)  # [B, L, D]
        # pre_LN and transformation act per token, so only the pooled one (<s>) needs them.
        return self.transformation(self.pre_LN(pool(x, input_ids, self.pooling)))
