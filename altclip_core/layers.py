"""Pieces the towers share: activations, attention, a container that keeps checkpoint names,
CLIP's pre-LN block (the ViT's, and OpenAI CLIP's text transformer's), and the text towers' pooling
(which one a family uses is its record's `pooling`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid_(1.702 * x)  # in place: one [N, L, 4D] tensor less to allocate


ACTIVATIONS = {
    "gelu": F.gelu,
    "quick_gelu": quick_gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unsupported hidden_act {name!r}; known: {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[name]


def named(**children: nn.Module) -> nn.Module:
    """A bare module holding `children` under exactly these names, so that parameter paths equal the
    checkpoint's (e.g. `attention.self.query`) without one class per level of nesting."""
    module = nn.Module()
    for name, child in children.items():
        module.add_module(name, child)
    return module


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Multi-head scaled dot-product attention on projected inputs, queries [B, Lq, D] and keys
    and values [B, L, D]; returns [B, Lq, D]."""
    b, length, d = q.shape
    q, k, v = (t.view(b, -1, heads, d // heads).transpose(1, 2) for t in (q, k, v))  # [B, H, L, d]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [B, H, Lq, d]
    return out.transpose(1, 2).reshape(b, length, d)  # [B, Lq, D]


def pool(
    hidden: torch.Tensor, input_ids: torch.Tensor, how: str, eos_token_id: int | None = None
) -> torch.Tensor:
    """The state that stands for each text: [B, L, D] -> [B, D].

    Args:
        hidden: the last hidden states.
        input_ids: the tokens [B, L].
        how: "first": the first token (<s>, [CLS]); "end_of_text": the end-of-text token, by
            transformers' rule for CLIP: configs older than its PR #24773 say `eos_token_id` 2,
            where the end-of-text id is the largest id of each row; newer ones name it (its first
            occurrence: the pad token may be the same).
        eos_token_id: the config's, for "end_of_text".
    """
    if how == "first":
        return hidden[:, 0]
    if how == "end_of_text":
        if eos_token_id == 2:
            end = input_ids.argmax(dim=-1)
        else:
            end = (input_ids == eos_token_id).int().argmax(dim=-1)
        return hidden[torch.arange(len(hidden), device=hidden.device), end]
    raise ValueError(f"unknown pooling {how!r}: first or end_of_text")


class CLIPLayer(nn.Module):
    """Pre-LN block: h = x + attn(LN(x)); out = h + mlp(LN(h)). `cfg` is a vision or CLIP text
    config: both name the same fields."""

    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg.hidden_size, cfg.layer_norm_eps
        self.heads = cfg.num_attention_heads
        self.act = activation(cfg.hidden_act)
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.self_attn = named(
            q_proj=nn.Linear(d, d),
            k_proj=nn.Linear(d, d),
            v_proj=nn.Linear(d, d),
            out_proj=nn.Linear(d, d),
        )
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = named(
            fc1=nn.Linear(d, cfg.intermediate_size), fc2=nn.Linear(cfg.intermediate_size, d)
        )

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        first: bool = False,
        own_value: bool = False,
    ) -> torch.Tensor:
        """[B, L, D] -> [B, L, D]; with `first`, only the first token's output [B, 1, D] (the
        ViT's last layer: the class token attends to all, nothing else is needed); with
        `own_value`, each token attends to itself alone (its own value: the dense maps of
        `VisionTower.tokens`)."""
        sa, y = self.self_attn, self.layer_norm1(x)
        if own_value:
            mixed = sa.v_proj(y)  # softmax over one key is 1: attention returns the value
        else:
            k, v = sa.k_proj(y), sa.v_proj(y)
            if first:
                x, y = x[:, :1], y[:, :1]
            mixed = attention(sa.q_proj(y), k, v, self.heads, mask)
        x = x + sa.out_proj(mixed)
        return x + self.mlp.fc2(self.act(self.mlp.fc1(self.layer_norm2(x))))
