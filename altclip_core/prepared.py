"""A text tower prepared for search and kept in the cache folder: a checkpoint's int8 text tower
saved once as safetensors (each linear layer as its int8 weight and per-channel scales, as
`kernels.int8_weight` makes them; the rest as loaded) and memory-mapped on later loads. A search
process then reads neither the checkpoint nor the word-embedding matrix (1 GB of XLM-R's 2.2 GB
in float32) beyond the rows its queries look up: the matrix stays in the file's pages, which the
kernel shares and may drop, not in the process's own memory.

A prepared file records what it was made from (its `__metadata__`: the checkpoint's fingerprint,
the dtype, the CPU kernel chosen for it, the format) and is used only where that is the model in
front of it; one that is missing, stale or damaged (a header, size, tensor list or kernel unlike
what it should be) is made again, never trusted. The bytes are not hashed on loading, which would
read the whole file that mapping spares; files are written whole or not at all (cache.write).
Files are named by the fingerprint, the dtype and this machine (CPU, torch, threads: as `kernels`
keys its verdicts and a library its int8 check, so that the kernel a file records is the one
checked); making one removes those made from the same folder for another fingerprint.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from . import cache, kernels

FORMAT = "1"
SCALE = ".weight_scale"  # beside a linear layer's int8 `.weight`: its float32 scales [out]


def path(fingerprint: str, dtype: torch.dtype) -> Path:
    """Where the text tower of the checkpoint `fingerprint` in `dtype` is kept on this machine."""
    key = kernels.key("prepared text", FORMAT, fingerprint, str(dtype))
    return cache.folder() / "prepared" / f"text-{key}.safetensors"


def write(target: Path, model: nn.Module, fingerprint: str, kernel: str, source: Path) -> None:
    """Save `model` (on the CPU, its linear layers still `nn.Linear`) to `target`, whole or not
    at all, its linear weights quantised for `kernel`; then remove the files prepared from the
    checkpoint folder `source` for another fingerprint (the model there has changed: they would
    never be used again)."""
    linears = {name for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    tensors = {}
    for name, t in model.state_dict().items():
        owner, _, leaf = name.rpartition(".")
        if owner in linears and leaf == "weight":
            tensors[name], tensors[owner + SCALE] = kernels.int8_weight(t)
        elif owner in linears:  # the bias, which an Int8Linear adds in float32
            tensors[name] = t.float().contiguous()
        else:
            tensors[name] = t.contiguous()
    metadata = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "dtype": str(model.dtype),  # a CLIP's: its tensors' but the linear layers'
        "kernel": kernel,
        "source": str(source.resolve()),
    }

    def fill(f) -> None:
        # save_file writes by path, from the tensors' own memory (no copy of the whole file in
        # memory): into the temporary file that cache.write then renames into place.
        try:
            save_file(tensors, f.name, metadata)
        except SafetensorError as e:  # a full disk, say: no tower kept, as any cache failure
            raise OSError(str(e)) from e

    cache.write(target, fill)
    for other in target.parent.glob("text-*.safetensors"):
        known = _metadata(other)
        if other != target and known.get("source") == metadata["source"]:
            if known.get("fingerprint") != fingerprint:
                with contextlib.suppress(OSError):
                    other.unlink()


def read(target: Path, model: nn.Module, fingerprint: str, dtype: torch.dtype) -> str | None:
    """Fill `model` (built on the meta device, its linear layers `nn.Linear`) from `target`,
    memory-mapped: its linear layers become `kernels.Int8Linear`s of the recorded kernel, one
    `kernels.Memo` per top-level child as `kernels.fit` shares them. Returns the kernel, or None
    (`model` untouched) where the file is missing, damaged, or made from another checkpoint,
    dtype or format."""
    known = _metadata(target)
    kernel = known.get("kernel")
    if (
        known.get("format") != FORMAT
        or known.get("fingerprint") != fingerprint
        or known.get("dtype") != str(dtype)
        or kernel not in kernels.INT8
    ):
        return None
    try:
        with safe_open(target, framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # views of the file's mapping
    except (OSError, SafetensorError):
        return None
    linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    if _expected(model, linears, dtype) != {k: (t.dtype, t.shape) for k, t in tensors.items()}:
        return None
    memos = {name.split(".")[0]: kernels.Memo() for name in linears}
    try:
        int8 = {
            name: kernels.Int8Linear(
                tensors[f"{name}.weight"],
                tensors[name + SCALE],
                tensors.get(f"{name}.bias"),
                kernel,
                memos[name.split(".")[0]],
            )
            for name in linears
        }
    except RuntimeError:  # a kernel this torch or CPU cannot run: made again, for this one
        return None
    for name, layer in int8.items():
        owner, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(owner), leaf, layer)
    rest = {k: t for k, t in tensors.items() if k.rpartition(".")[0] not in linears}
    model.load_state_dict(rest, assign=True)
    model.eval().requires_grad_(False)
    return kernel


def _expected(model: nn.Module, linears: dict, dtype: torch.dtype) -> dict:
    """Each tensor a prepared file of `model` holds: name -> (dtype, shape)."""
    expected = {}
    for name, t in model.state_dict().items():
        owner, _, leaf = name.rpartition(".")
        if owner in linears and leaf == "weight":
            expected[name] = (torch.int8, t.shape)
            expected[owner + SCALE] = (torch.float32, t.shape[:1])
        else:
            expected[name] = (torch.float32 if owner in linears else dtype, t.shape)
    return expected


def _metadata(target: Path) -> dict[str, str]:
    try:
        with safe_open(target, framework="pt") as f:
            return f.metadata() or {}
    except (OSError, SafetensorError):
        return {}
