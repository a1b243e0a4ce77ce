"""The linear kernels a tower runs on CPU, chosen for this machine by timing them.

A tower's time is almost all in its linear layers, and which kernel runs them fastest depends on
the CPU and on the workload, not on one rule. Measured on a Zen 3 (AVX2, no AVX-512) for one
[1024 -> 4096] layer: oneDNN's packed float32 weights run a text query's 12 rows 1.5x as fast as
MKL's `F.linear`, but an image batch's 2056 rows only 0.8x as fast; on a Zen 4 with AVX512-BF16
packing won both. So `fit` times the candidates on the tower's largest layer at the tower's own
row count, once per machine, and keeps the verdict in a small cache file.

Kernels: "plain" (`nn.Linear`), "packed" (oneDNN's blocked layout, float32 or bfloat16) and, when
int8 is asked for, "fbgemm" and "onednn": PyTorch's own dynamically quantised linears (weights int8
per output channel, each call's input quantised on the fly). On that Zen 3 fbgemm ran the 12-row
layer 6x and the 2056-row one 1.6x as fast as `F.linear`; oneDNN's 2.3x and 1.75x.
"""

from __future__ import annotations

import time
import warnings

import torch
from torch import nn

from . import cache

EXACT = ("plain", "packed")
INT8 = ("fbgemm", "onednn")
FASTER = 1.05  # a kernel other than the first candidate must win by this much


class FrozenLinear(nn.Module):
    """A linear layer whose weight is laid out for one CPU kernel: it cannot move or be saved."""

    def _apply(self, fn, recurse=True):
        raise RuntimeError(
            "this model's linear layers are packed for the CPU they were loaded on; to change its "
            "device or dtype, load it again: altclip_core.load(name, device=..., dtype=...)"
        )

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        raise RuntimeError(
            "this model's linear layers are packed for this CPU and have no checkpoint layout; "
            "save the weights of a model loaded on another device, or the checkpoint itself"
        )


class PackedLinear(FrozenLinear):
    """`nn.Linear` with its weight reordered once into oneDNN's blocked layout, instead of on
    every call: the same numbers."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), 1)
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


class Int8Linear(FrozenLinear):
    """`nn.Linear` in int8: weights quantised symmetrically per output channel (`int8_weight`),
    each call's input quantised per tensor from its own range (dynamic quantisation); float out.
    (A search's text tower runs the same weights on ONNX Runtime: `prepared.py`.)"""

    def __init__(
        self,
        weight: torch.Tensor,
        scale: torch.Tensor,
        bias: torch.Tensor | None,
        kernel: str,
        memo: Memo | None = None,
    ):
        super().__init__()
        self.kernel, self.memo = kernel, memo or Memo()
        if kernel == "fbgemm":
            zero = torch.zeros_like(scale, dtype=torch.long)
            with warnings.catch_warnings():  # quantised tensors are deprecated; the op is not
                warnings.simplefilter("ignore", UserWarning)
                q = torch._make_per_channel_quantized_tensor(weight, scale.double(), zero, 0)
            self.packed = torch.ops.quantized.linear_prepack(q, bias)
        else:
            self.packed = torch.ops.onednn.qlinear_prepack(weight, None)
            self.scale, self.bias = scale, bias
            self.zero = torch.zeros_like(scale, dtype=torch.int32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape, dtype = x.shape, x.dtype
        rows = x.reshape(-1, shape[-1]).float()  # [rows, in]
        # Inputs in 7 bits (0..127): without VNNI, x86 sums pairs of uint8 x int8 products in
        # int16, which 8-bit inputs would overflow ("reduce_range").
        if self.kernel == "fbgemm":
            y = torch.ops.quantized.linear_dynamic(rows, self.packed, True)
        else:
            seen, *quantised = self.memo.last  # one read: another thread may write it meanwhile
            if seen is not x:  # the same tensor object, as q, k and v are given
                quantised = _quantise(rows)
                self.memo.last = (x, *quantised)
            xq, step, zero = quantised
            y = torch.ops.onednn.qlinear_pointwise(
                xq, step, zero, self.packed, self.scale, self.zero, self.bias,
                1.0, 0, torch.float32, "none", [], "",
            )  # fmt: skip
        return y.reshape(*shape[:-1], -1).to(dtype)  # [..., out]


class Memo:
    """The last input an Int8Linear quantised, shared by a tower's layers: q, k and v read the
    same tensor, quantised once for the three."""

    last: tuple = (None, None, None, None)  # (input, quantised input, step, zero point)


def _quantise(x: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """float [rows, in] -> uint8 in 0..127 with its step and zero point, over x's own range."""
    lo, hi = torch.aminmax(x)
    lo, hi = min(lo.item(), 0.0), max(hi.item(), 0.0)
    step = (hi - lo) / 127 or 1.0
    zero = round(-lo / step)
    return x.mul(1 / step).round_().add_(zero).clamp_(0, 127).to(torch.uint8), step, zero


def int8_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear weight [out, in] -> int8 [out, in] and float32 scales [out]: symmetric per
    output channel, each row's largest magnitude at 127."""
    w = weight.detach().float()
    scale = w.abs().amax(1).clamp(min=1e-12) / 127  # [out]
    return torch.round(w / scale[:, None]).to(torch.int8), scale


def make(linear: nn.Linear, kernel: str, memo: Memo | None = None) -> nn.Module:
    if kernel == "plain":
        return linear
    if kernel == "packed":
        return PackedLinear(linear)
    bias = None if linear.bias is None else linear.bias.detach().float()
    return Int8Linear(*int8_weight(linear.weight), bias, kernel, memo)


def fit(tower: nn.Module, rows: int, quantize: str | None = None) -> str:
    """Swap every `nn.Linear` under `tower` (on CPU) for the fastest kernel on this machine at
    `rows` input rows per call (`choose`); returns its name."""
    kernel = choose(tower, rows, quantize)
    _swap(tower, kernel)
    return kernel


def choose(tower: nn.Module, rows: int, quantize: str | None = None) -> str:
    """The fastest kernel for `tower`'s linear layers on this machine at `rows` input rows per
    call, int8 ones only with quantize="int8". Timed on the tower's largest layer the first
    time, then remembered in the cache folder."""
    linears = [m for m in tower.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return "plain"
    probe = max(linears, key=lambda m: m.weight.numel())
    candidates = INT8 if quantize == "int8" else EXACT
    shape = (probe.in_features, probe.out_features, str(probe.weight.dtype), rows)
    machine = (torch.__version__, torch.get_num_threads(), *candidates, *shape)
    kernel = cache.remembered("kernel", *machine)
    if kernel not in candidates:
        kernel = _fastest(probe, rows, candidates)
        cache.remember("kernel", kernel, *machine)
    return kernel


def _swap(module: nn.Module, kernel: str, memo: Memo | None = None) -> None:
    memo = memo or Memo()
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, make(child, kernel, memo))
        else:
            _swap(child, kernel, memo)


def _fastest(linear: nn.Linear, rows: int, candidates: tuple[str, ...]) -> str:
    """The candidate with the best time, interleaved so that a noisy neighbour slows all alike;
    one this torch or CPU cannot run is left out."""
    x = torch.randn(rows, linear.in_features, dtype=linear.weight.dtype)
    runs = {}
    for kernel in candidates:
        try:
            layer = make(linear, kernel)
            with torch.inference_mode():
                layer(x)
            runs[kernel] = layer
        except (RuntimeError, AttributeError, NotImplementedError):  # no such kernel here
            pass
    if len(runs) < 2:
        return next(iter(runs), "plain")
    repeat = min(20, max(1, int(5e7 / (2 * rows * linear.weight.numel()))))  # >= 50 MFLOP
    best = dict.fromkeys(runs, float("inf"))
    with torch.inference_mode():
        for _ in range(7):
            for kernel, layer in runs.items():
                start = time.perf_counter()
                for _ in range(repeat):
                    layer(x)
                best[kernel] = min(best[kernel], time.perf_counter() - start)
    first, *others = runs
    winner = min(others, key=best.get)
    return winner if best[first] > FASTER * best[winner] else first
