"""The vision tower of the whole CLIP family: CLIP's ViT (Radford et al. 2021; Dosovitskiy et al.
2020), which AltCLIP and Chinese-CLIP keep name for name.

Parameter names follow transformers' `CLIPVisionModel`, including its `pre_layrnorm` spelling.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import VisionConfig
from .layers import CLIPLayer, named


class VisionTower(nn.Module):
    """`vision_model.*`: returns the post-LN class token [B, hidden_size], before projection."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        d, p = cfg.hidden_size, cfg.patch_size
        num_positions = (cfg.image_size // p) ** 2 + 1
        self.embeddings = named(
            patch_embedding=nn.Conv2d(cfg.num_channels, d, kernel_size=p, stride=p, bias=False),
            position_embedding=nn.Embedding(num_positions, d),
        )
        self.embeddings.class_embedding = nn.Parameter(torch.empty(d))
        self.pre_layrnorm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.encoder = named(
            layers=nn.ModuleList(CLIPLayer(cfg) for _ in range(cfg.num_hidden_layers))
        )
        self.post_layernorm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        emb = self.embeddings
        x = emb.patch_embedding(pixel_values)  # [B, D, grid, grid]
        x = x.flatten(2).transpose(1, 2)  # [B, grid*grid, D]
        cls = emb.class_embedding.expand(x.shape[0], 1, -1)  # [B, 1, D]
        x = torch.cat([cls, x], dim=1) + emb.position_embedding.weight  # [B, 1 + grid*grid, D]
        x = self.pre_layrnorm(x)
        *layers, last = self.encoder.layers
        for layer in layers:
            x = layer(x)
        return self.post_layernorm(last(x, first=True)[:, 0])  # [B, D]
