"""BERT's encoder (Devlin et al. 2019), with RoBERTa's positions as an option (Liu et al. 2019):
the body of AltCLIP's XLM-R text tower and of Chinese-CLIP's. Parameter names are transformers'
`modeling_altclip.py` / `modeling_chinese_clip.py`, one to one.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import AltCLIPTextConfig, ChineseCLIPTextConfig
from .layers import activation, attention, named
from .weights import embedding


class BertLayer(nn.Module):
    """Post-LN block of BERT and RoBERTa: h = LN(x + attn(x)); out = LN(h + ffn(h))."""

    def __init__(self, cfg: AltCLIPTextConfig | ChineseCLIPTextConfig):
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


class Bert(nn.Module):
    """BERT's embeddings and encoder -> the last hidden state [B, L, D]. Positions count 0..L-1,
    or, with `roberta_positions`, as RoBERTa counts them."""

    def __init__(
        self, cfg: AltCLIPTextConfig | ChineseCLIPTextConfig, roberta_positions: bool = False
    ):
        super().__init__()
        d = cfg.hidden_size
        self.pad_id = cfg.pad_token_id if roberta_positions else None
        self.embeddings = named(
            word_embeddings=embedding(cfg.vocab_size, d),
            position_embeddings=embedding(cfg.max_position_embeddings, d),
            token_type_embeddings=embedding(cfg.type_vocab_size, d),
            LayerNorm=nn.LayerNorm(d, eps=cfg.layer_norm_eps),
        )
        self.encoder = named(
            layer=nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_hidden_layers))
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        emb = self.embeddings
        if self.pad_id is None:
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)  # [L]
        else:  # RoBERTa: real tokens count up from pad_id + 1, pads sit at pad_id
            real = (input_ids != self.pad_id).long()
            positions = torch.cumsum(real, dim=1) * real + self.pad_id  # [B, L]
        x = emb.word_embeddings(input_ids) + emb.position_embeddings(positions)
        x = emb.LayerNorm(x + emb.token_type_embeddings.weight[0])  # [B, L, D]
        # Pads are masked as keys only; a boolean mask keeps SDPA on its fused kernels.
        mask = None if bool(attention_mask.all()) else attention_mask.bool()[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x
