"""AltCLIP text tower: an XLM-RoBERTa encoder followed by `pre_LN` and `transformation`.

References: Liu et al. 2019 (RoBERTa), Conneau et al. 2020 (XLM-R), Chen et al. 2022 (AltCLIP), and
transformers' `modeling_altclip.py`, whose parameter names this module reproduces one to one.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import TextConfig
from .layers import activation, attention, named


class RobertaLayer(nn.Module):
    """Post-LN block: h = LN(x + attn(x)); out = LN(h + ffn(h))."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        d, eps = cfg.hidden_size, cfg.layer_norm_eps
        self.heads = cfg.num_attention_heads
        self.act = activation(cfg.hidden_act)
        self.attention = named(
            self=named(query=nn.Linear(d, d), key=nn.Linear(d, d), value=nn.Linear(d, d)),
            output=named(dense=nn.Linear(d, d), LayerNorm=nn.LayerNorm(d, eps=eps)),
        )
        self.intermediate = named(dense=nn.Linear(d, cfg.intermediate_size))
        self.output = named(
            dense=nn.Linear(cfg.intermediate_size, d), LayerNorm=nn.LayerNorm(d, eps=eps)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        qkv, out = self.attention.self, self.attention.output
        a = attention(qkv.query(x), qkv.key(x), qkv.value(x), self.heads, mask)
        h = out.LayerNorm(x + out.dense(a))
        f = self.output.dense(self.act(self.intermediate.dense(h)))
        return self.output.LayerNorm(h + f)


class Roberta(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        d = cfg.hidden_size
        self.pad_id = cfg.pad_token_id
        self.embeddings = named(
            word_embeddings=nn.Embedding(cfg.vocab_size, d),
            position_embeddings=nn.Embedding(cfg.max_position_embeddings, d),
            token_type_embeddings=nn.Embedding(cfg.type_vocab_size, d),
            LayerNorm=nn.LayerNorm(d, eps=cfg.layer_norm_eps),
        )
        self.encoder = named(
            layer=nn.ModuleList(RobertaLayer(cfg) for _ in range(cfg.num_hidden_layers))
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        emb = self.embeddings
        # RoBERTa positions: real tokens count up from pad_id + 1, pads sit at pad_id.
        real = (input_ids != self.pad_id).long()
        positions = torch.cumsum(real, dim=1) * real + self.pad_id  # [B, L]
        x = emb.word_embeddings(input_ids) + emb.position_embeddings(positions)
        x = emb.LayerNorm(x + emb.token_type_embeddings.weight[0])  # [B, L, D]
        # Pads are masked as keys only; a boolean mask keeps SDPA on its fused kernels.
        mask = None if bool(attention_mask.all()) else attention_mask.bool()[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x


class TextTower(nn.Module):
    """`text_model.*`: the first token's `project_dim` state, before `text_projection`."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.roberta = Roberta(cfg)
        self.pre_LN = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.transformation = nn.Linear(cfg.hidden_size, cfg.project_dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.roberta(input_ids, attention_mask)  # [B, L, D]
        # pre_LN and transformation act per token, so only the pooled first token (<s>) needs them.
        return self.transformation(self.pre_LN(x[:, 0]))  # [B, project_dim]
