"""OpenAI CLIP's text tower (Radford et al. 2021), `text_model.*`: a causal pre-LN transformer
(the vision tower's block) over learned absolute positions. Parameter names are transformers'
`modeling_clip.py`."""

from __future__ import annotations

import torch
from torch import nn

from .config import CLIPTextConfig
from .layers import CLIPLayer, named, pool
from .weights import embedding


class CLIPTextTower(nn.Module):
    """The pooled token's state after `final_layer_norm` [B, D]."""

    def __init__(self, cfg: CLIPTextConfig, pooling: str):
        super().__init__()
        d = cfg.hidden_size
        self.pooling, self.eos_token_id = pooling, cfg.eos_token_id
        self.embeddings = named(
            token_embedding=embedding(cfg.vocab_size, d),
            position_embedding=embedding(cfg.max_position_embeddings, d),
        )
        self.encoder = named(
            layers=nn.ModuleList(CLIPLayer(cfg) for _ in range(cfg.num_hidden_layers))
        )
        self.final_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        emb = self.embeddings
        x = emb.token_embedding(input_ids) + emb.position_embedding.weight[:length]  # [B, L, D]
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()  # [L, L]
        mask = causal & attention_mask.bool()[:, None, None, :]  # [B, 1, L, L]: earlier, not pads
        for layer in self.encoder.layers:
            x = layer(x, mask)
        # final_layer_norm acts per token, so only the pooled one needs it.
        return self.final_layer_norm(pool(x, input_ids, self.pooling, self.eos_token_id))
