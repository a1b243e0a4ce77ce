"""A text tower written as an ONNX graph, for ONNX Runtime (`prepared.py` keeps and runs it): the
same layers as the PyTorch towers, read from the checkpoint, token ids and mask in, the projected
text features out (not yet normalised). Each family's graph is one function here, named by its
record's `text_graph` (`families.py`).

With `int8`, every linear layer is ONNX Runtime's `DynamicQuantizeMatMul`: the weight in int8 per
output channel as `kernels.int8_weight` makes it, each call's input quantised on the fly over its
own range (uint8). Without VNNI, x86 sums pairs of uint8 x int8 products in int16, which can
overflow; `signed=False` then stores the weights as uint8 around 128 (the same numbers), which
ONNX Runtime multiplies exactly. Without `int8` the graph is the exact float32 tower.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

from .families import family, read_config
from .kernels import int8_weight
from .texts import IDS, MASK, WORDS
from .weights import read_tensors

OPSET = 17  # LayerNormalization
MASKED = float(np.finfo(np.float32).min)  # a masked key's score


class Graph:
    """The nodes and tensors of one graph, its tensors named as the checkpoint's."""

    def __init__(self, state: dict[str, torch.Tensor], int8: bool, signed: bool):
        self.state = state
        self.int8, self.signed = int8, signed
        self.nodes: list = []
        self.tensors: dict[str, np.ndarray] = {}  # large: fed to the session, kept in a file
        self.constants: list = []  # small: inside the graph

    def op(self, kind: str, *inputs: str, domain: str | None = None, **attributes) -> str:
        """A node; returns the name of its (only) output."""
        out = f"{kind.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(kind, list(inputs), [out], domain=domain, **attributes))
        return out

    def tensor(self, name: str, value: np.ndarray | None = None) -> str:
        """The graph's tensor `name`: `value`, else the checkpoint's tensor of that name."""
        value = self.state[name].detach().float().numpy() if value is None else value
        self.tensors[name] = np.ascontiguousarray(value)
        return name

    def words(self, name: str) -> str:
        """The rows of the word-embedding matrix `name` that the ids pick: a graph input, which
        its runner looks up in the matrix itself (ONNX Runtime would copy the matrix, 1 GB of
        XLM-R's, into the process's memory)."""
        self.tensor(WORDS, self.state[name].detach().float().numpy())
        return WORDS

    def constant(self, value, dtype=np.float32) -> str:
        name = f"constant_{len(self.constants)}"
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def linear(self, x: str, name: str) -> str:
        """x @ W.T + b of the checkpoint's layer `name`."""
        w, bias = self.state[f"{name}.weight"], self.state.get(f"{name}.bias")
        if not self.int8:
            wt = self.tensor(f"{name}.weight", w.detach().float().numpy().T)
            y = self.op("MatMul", x, wt)
            return y if bias is None else self.op("Add", y, self.tensor(f"{name}.bias"))
        q, scale = (t.numpy() for t in int8_weight(w))
        q = q.T  # [in, out], as MatMul takes it
        zero = ""
        if not self.signed:
            q = (q.astype(np.int16) + 128).astype(np.uint8)
            zero = self.tensor(f"{name}.weight_zero", np.full(q.shape[1], 128, np.uint8))
        inputs = [
            x,
            self.tensor(f"{name}.weight", q),
            self.tensor(f"{name}.weight_scale", scale),
            zero,
            "" if bias is None else self.tensor(f"{name}.bias"),
        ]
        return self.op("DynamicQuantizeMatMul", *inputs, domain="com.microsoft")

    def layer_norm(self, x: str, name: str, eps: float) -> str:
        w, b = self.tensor(f"{name}.weight"), self.tensor(f"{name}.bias")
        return self.op("LayerNormalization", x, w, b, axis=-1, epsilon=eps)

    def activation(self, x: str, kind: str) -> str:
        if kind == "gelu":  # x * Phi(x), exactly (erf)
            erf = self.op("Erf", self.op("Mul", x, self.constant(2**-0.5)))
            return self.op(
                "Mul",
                self.op("Mul", x, self.constant(0.5)),
                self.op("Add", erf, self.constant(1.0)),
            )
        if kind in ("gelu_new", "gelu_pytorch_tanh"):
            cube = self.op("Mul", self.op("Pow", x, self.constant(3.0)), self.constant(0.044715))
            inner = self.op("Mul", self.op("Add", x, cube), self.constant((2 / np.pi) ** 0.5))
            half = self.op("Mul", x, self.constant(0.5))
            return self.op("Mul", half, self.op("Add", self.op("Tanh", inner), self.constant(1.0)))
        if kind == "quick_gelu":
            return self.op("Mul", x, self.op("Sigmoid", self.op("Mul", x, self.constant(1.702))))
        if kind == "relu":
            return self.op("Relu", x)
        raise ValueError(f"unsupported hidden_act {kind!r}")

    def attention(self, x: str, names: tuple[str, str, str], heads: int, d: int, bias: str):
        """Multi-head attention of x [B, L, D] with the layers `names` (query, key, value) and
        the additive mask `bias` [B, 1, 1 or L, L]: [B, L, D] before the output layer."""
        split = self.constant([0, 0, heads, d // heads], np.int64)
        q, k, v = (self.op("Reshape", self.linear(x, n), split) for n in names)
        q = self.op(
            "Mul", self.op("Transpose", q, perm=[0, 2, 1, 3]), self.constant((d // heads) ** -0.5)
        )
        k = self.op("Transpose", k, perm=[0, 2, 3, 1])
        v = self.op("Transpose", v, perm=[0, 2, 1, 3])
        p = self.op("Softmax", self.op("Add", self.op("MatMul", q, k), bias), axis=-1)
        a = self.op("Transpose", self.op("MatMul", p, v), perm=[0, 2, 1, 3])
        return self.op("Reshape", a, self.constant([0, 0, d], np.int64))

    def positions(self) -> str:
        """0 .. L-1, [L]."""
        length = self.op("Squeeze", self.op("Shape", IDS, start=1, end=2))
        zero, one = self.constant(0, np.int64), self.constant(1, np.int64)
        return self.op("Range", zero, length, one)

    def key_mask(self, causal: bool = False) -> str:
        """The additive mask [B, 1, 1, L] (pads as keys) or, `causal`, [B, 1, L, L]."""
        keep = self.op(
            "Unsqueeze", self.op("Cast", MASK, to=TensorProto.BOOL), self.constant([1, 2], np.int64)
        )
        if causal:  # a token sees itself and those before it
            at = self.positions()
            rows = self.op("Unsqueeze", at, self.constant([1], np.int64))
            seen = self.op(
                "GreaterOrEqual", rows, self.op("Unsqueeze", at, self.constant([0], np.int64))
            )
            keep = self.op("And", keep, seen)
        return self.op("Where", keep, self.constant(0.0), self.constant(MASKED))

    def model(self, output: str, dim: int) -> bytes:
        """The graph's bytes; its large tensors declared, their data kept outside (fed to the
        session by name, `prepared.py`)."""
        inputs = [
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "length"])
            for n in (IDS, MASK)
        ]
        outputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", dim])]
        self.nodes.append(helper.make_node("Identity", [output], ["features"]))
        graph = helper.make_graph(self.nodes, "text", inputs, outputs, self.constants)
        width = self.tensors[WORDS].shape[1]
        graph.input.append(
            helper.make_tensor_value_info(WORDS, TensorProto.FLOAT, ["batch", "length", width])
        )
        for name, a in self.tensors.items():
            if name == WORDS:
                continue
            t = graph.initializer.add()
            t.name, t.data_type = name, helper.np_dtype_to_tensor_dtype(a.dtype)
            t.dims.extend(a.shape)
            t.data_location = TensorProto.EXTERNAL
            entry = t.external_data.add()
            entry.key, entry.value = "location", "fed by name"
        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
        return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def build(
    folder: Path, int8: bool = True, signed: bool = True
) -> tuple[bytes, dict[str, np.ndarray], float]:
    """The text tower of the checkpoint in `folder` as an ONNX graph's bytes, the tensors it is
    fed by name (`WORDS` among them), and the model's logit scale."""
    config = read_config(folder)
    kind = family(config.model_type)
    state = read_tensors(folder, kind.tensors(("text",)))
    with torch.inference_mode():
        g = Graph(state, int8, signed)
        features = kind.build_text_graph(g, config.text_config)
        graph = g.model(g.linear(features, "text_projection"), config.projection_dim)
    return graph, g.tensors, float(state["logit_scale"])


def bert(g: Graph, cfg, prefix: str, roberta_positions: bool) -> str:
    """BERT's embeddings and post-LN encoder (bert.py) -> the last hidden state [B, L, D]."""
    emb = f"{prefix}embeddings."
    if roberta_positions:  # real tokens count up from pad_id + 1, pads sit at pad_id
        pad = g.constant(cfg.pad_token_id, np.int64)
        real = g.op("Cast", g.op("Not", g.op("Equal", IDS, pad)), to=TensorProto.INT64)
        at = g.op("Add", g.op("Mul", g.op("CumSum", real, g.constant(1, np.int64)), real), pad)
    else:
        at = g.positions()
    x = g.op(
        "Add",
        g.words(f"{emb}word_embeddings.weight"),
        g.op("Gather", g.tensor(f"{emb}position_embeddings.weight"), at),
    )
    token_type = g.op(
        "Gather", g.tensor(f"{emb}token_type_embeddings.weight"), g.constant(0, np.int64)
    )
    x = g.layer_norm(g.op("Add", x, token_type), f"{emb}LayerNorm", cfg.layer_norm_eps)
    bias = g.key_mask()
    d, eps = cfg.hidden_size, cfg.layer_norm_eps
    for i in range(cfg.num_hidden_layers):
        p = f"{prefix}encoder.layer.{i}."
        qkv = tuple(f"{p}attention.self.{n}" for n in ("query", "key", "value"))
        a = g.attention(x, qkv, cfg.num_attention_heads, d, bias)
        h = g.op("Add", x, g.linear(a, f"{p}attention.output.dense"))
        h = g.layer_norm(h, f"{p}attention.output.LayerNorm", eps)
        f = g.activation(g.linear(h, f"{p}intermediate.dense"), cfg.hidden_act)
        x = g.layer_norm(
            g.op("Add", h, g.linear(f, f"{p}output.dense")), f"{p}output.LayerNorm", eps
        )
    return x


def first(g: Graph, x: str) -> str:
    """[B, L, D] -> the first token's [B, D] (<s>, [CLS])."""
    return g.op("Gather", x, g.constant(0, np.int64), axis=1)


def altclip(g: Graph, cfg) -> str:
    """text_altclip.py: XLM-R, then `pre_LN` and `transformation` on the first token."""
    x = first(g, bert(g, cfg, "text_model.roberta.", roberta_positions=True))
    return g.linear(
        g.layer_norm(x, "text_model.pre_LN", cfg.layer_norm_eps), "text_model.transformation"
    )


def chinese_clip(g: Graph, cfg) -> str:
    """text_chinese_clip.py: BERT's first token."""
    return first(g, bert(g, cfg, "text_model.", roberta_positions=False))


def clip(g: Graph, cfg) -> str:
    """text_clip.py: the causal pre-LN transformer, its end-of-text token after the final norm."""
    at = g.positions()
    x = g.op(
        "Add",
        g.words("text_model.embeddings.token_embedding.weight"),
        g.op("Gather", g.tensor("text_model.embeddings.position_embedding.weight"), at),
    )
    bias = g.key_mask(causal=True)
    d, eps = cfg.hidden_size, cfg.layer_norm_eps
    for i in range(cfg.num_hidden_layers):
        p = f"text_model.encoder.layers.{i}."
        y = g.layer_norm(x, f"{p}layer_norm1", eps)
        qkv = tuple(f"{p}self_attn.{n}_proj" for n in "qkv")
        a = g.attention(y, qkv, cfg.num_attention_heads, d, bias)
        x = g.op("Add", x, g.linear(a, f"{p}self_attn.out_proj"))
        y = g.activation(
            g.linear(g.layer_norm(x, f"{p}layer_norm2", eps), f"{p}mlp.fc1"), cfg.hidden_act
        )
        x = g.op("Add", x, g.linear(y, f"{p}mlp.fc2"))
    # The end-of-text token, by layers.pool's rule: the largest id where the config says 2.
    eos = g.constant(cfg.eos_token_id, np.int64)
    ends = IDS if cfg.eos_token_id == 2 else g.op("Equal", IDS, eos)
    end = g.op("ArgMax", g.op("Cast", ends, to=TensorProto.INT32), axis=1, keepdims=1)  # [B, 1]
    x = g.op("GatherND", x, end, batch_dims=1)  # [B, D]
    return g.layer_norm(x, "text_model.final_layer_norm", eps)
