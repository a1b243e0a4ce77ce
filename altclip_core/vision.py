"""The vision tower of the whole CLIP family: CLIP's ViT (Radford et al. 2021; Dosovitskiy et al.
2020), which AltCLIP and Chinese-CLIP keep name for name.

Parameter names follow transformers' `CLIPVisionModel`, including its `pre_layrnorm` spelling.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import VisionConfig
from .layers import CLIPLayer, named
from .weights import embedding


class VisionTower(nn.Module):
    """`vision_model.*`: returns the post-LN class token [B, hidden_size], before projection."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        d, p = cfg.hidden_size, cfg.patch_size
        self.embeddings = named(
            patch_embedding=nn.Conv2d(cfg.num_channels, d, kernel_size=p, stride=p, bias=False),
            position_embedding=embedding(cfg.num_positions, d),
        )
        self.embeddings.class_embedding = nn.Parameter(torch.empty(d))
        self.pre_layrnorm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.encoder = named(
            layers=nn.ModuleList(CLIPLayer(cfg) for _ in range(cfg.num_hidden_layers))
        )
        self.post_layernorm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        *layers, last = self.encoder.layers
        x = self._hidden(pixel_values, layers)
        return self.post_layernorm(last(x, first=True)[:, 0])  # [B, D]

    def tokens(self, pixel_values: torch.Tensor, values: bool = False) -> torch.Tensor:
        """Every token of the last layer, post-LN: [B, 1 + grid*grid, D], the class token first
        (equal to `forward`'s), then the patches row by row. A slower path than `forward`, for
        maps of where in the picture something is.

        With `values`, each patch token's last attention is replaced by its own value, as in
        MaskCLIP (Zhou et al. 2022): the class token pools the patches' values, and a patch
        token through the same path is that patch's part of the pool, where a patch token's own
        attention mixes in the whole picture. The class token stays as `forward` has it."""
        *layers, last = self.encoder.layers
        x = self._hidden(pixel_values, layers)
        if values:  # [B, L, D] either way
            out = torch.cat([last(x, first=True), last(x, own_value=True)[:, 1:]], dim=1)
        else:
            out = last(x)
        return self.post_layernorm(out)

    def _hidden(self, pixel_values: torch.Tensor, layers: list[CLIPLayer]) -> torch.Tensor:
        """The input of the last layer: [B, 1 + grid*grid, D]."""
        emb = self.embeddings
        x = emb.patch_embedding(pixel_values)  # [B, D, grid, grid]
        x = x.flatten(2).transpose(1, 2)  # [B, grid*grid, D]
        cls = emb.class_embedding.expand(x.shape[0], 1, -1)  # [B, 1, D]
        x = torch.cat([cls, x], dim=1) + emb.position_embedding.weight  # [B, 1 + grid*grid, D]
        x = self.pre_layrnorm(x)
        for layer in layers:
            x = layer(x)
        return x
