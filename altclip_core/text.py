"""The text towers of the CLIP family. Each returns the pooled features that `text_projection`
takes, [B, text_config.embed_dim]:

- AltCLIP (Chen et al. 2022): XLM-RoBERTa, then `pre_LN` and `transformation`; the first token.
- Chinese-CLIP (Yang et al. 2022): BERT; the first token ([CLS]) of the last hidden state, with
  no pooler.
- OpenAI CLIP (Radford et al. 2021): a causal pre-LN transformer, the vision tower's block; the
  end-of-text token after `final_layer_norm`.

Parameter names are those of transformers' `modeling_altclip.py`, `modeling_chinese_clip.py` and
`modeling_clip.py`, one to one.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import AltCLIPTextConfig, ChineseCLIPTextConfig, CLIPTextConfig
from .layers import CLIPLayer, activation, attention, named
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


class BertTextTower(Bert):
    """Chinese-CLIP's `text_model.*`: the first token ([CLS]) of the last hidden state. transformers
    builds this BERT without its tanh pooler (`add_pooling_layer=False`)."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids, attention_mask)[:, 0]  # [B, D]


class AltCLIPTextTower(nn.Module):
    """AltCLIP's `text_model.*`: XLM-R, then the first token's `project_dim` state."""

    def __init__(self, cfg: AltCLIPTextConfig):
        super().__init__()
        self.roberta = Bert(cfg, roberta_positions=True)
        self.pre_LN = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.transformation = nn.Linear(cfg.hidden_size, cfg.project_dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.roberta(input_ids, attention_mask)  # [B, L, D]
        # pre_LN and transformation act per token, so only the pooled first token (<s>) needs them.
        return self.transformation(self.pre_LN(x[:, 0]))  # [B, project_dim]


class CLIPTextTower(nn.Module):
    """OpenAI CLIP's `text_model.*`: causal attention over learned absolute positions; the state of
    the end-of-text token."""

    def __init__(self, cfg: CLIPTextConfig):
        super().__init__()
        d = cfg.hidden_size
        self.eos_token_id = cfg.eos_token_id
        self.embeddings = named(
            token_embedding=embedding(cfg.vocab_size, d),
            position_embedding=embedding(cfg.max_position_embeddings, d),
        )
        self.encoder = named(
            layers=nn.ModuleList(CLIPLayer(cfg) for _ in range(cfg.num_hidden_layers))
        )
        self.final_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        b, length = input_ids.shape
        emb = self.embeddings
        x = emb.token_embedding(input_ids) + emb.position_embedding.weight[:length]  # [B, L, D]
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()  # [L, L]
        mask = causal & attention_mask.bool()[:, None, None, :]  # [B, 1, L, L]: earlier, not pads
        for layer in self.encoder.layers:
            x = layer(x, mask)
        # transformers' rule: configs older than its PR #24773 say eos_token_id 2, where the
        # end-of-text id is the largest id of each row; newer ones name it (its first occurrence:
        # the pad token may be the same).
        if self.eos_token_id == 2:
            end = input_ids.argmax(dim=-1)
        else:
            end = (input_ids == self.eos_token_id).int().argmax(dim=-1)
        # final_layer_norm acts per token, so only the pooled one needs it.
        return self.final_layer_norm(x[torch.arange(b, device=x.device), end])  # [B, D]
