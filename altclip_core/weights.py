"""Read a checkpoint's tensors by their own names, only those under the requested prefixes:
safetensors (single or sharded), or a legacy `pytorch_model.bin`
through `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .errors import CheckpointError

SAFETENSORS_INDEX = "model.safetensors.index.json"


def embedding(rows: int, dim: int) -> torch.nn.Embedding:
    """An `nn.Embedding` left uninitialised, for a checkpoint to fill: its own random init on the
    meta device makes torch import its Python meta kernels, 1.4 s of every process's first load."""
    return torch.nn.Embedding(rows, dim, _weight=torch.empty(rows, dim))


def weight_files(folder: Path) -> list[Path]:
    """The files holding the weights, preferring safetensors over `pytorch_model.bin`."""
    if (folder / SAFETENSORS_INDEX).is_file():
        shards = json.loads((folder / SAFETENSORS_INDEX).read_text())["weight_map"].values()
        return [folder / name for name in sorted(set(shards))]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return [folder / name]
    raise CheckpointError(
        f"no model.safetensors or pytorch_model.bin in {folder}: pass a folder with the checkpoint"
    )


def canonical(name: str) -> str:
    """The published checkpoints' name for a tensor; transformers 5 saves the vision blocks as
    `vision_model.encoder.layer.N` where BAAI/AltCLIP (and transformers 4) say `layers.N`."""
    return name.replace("vision_model.encoder.layer.", "vision_model.encoder.layers.")


def read_tensors(folder: Path, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """All tensors whose names start with one of `prefixes`, on the CPU, in their stored dtype."""
    tensors = {}
    for path in weight_files(folder):
        if path.suffix == ".safetensors":
            with safe_open(path, framework="pt") as f:
                tensors.update(
                    {canonical(k): f.get_tensor(k) for k in f.keys() if k.startswith(prefixes)}
                )
        else:
            # mmap keeps the other tower's tensors on disk; weights_only refuses pickled code.
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            tensors.update({canonical(k): v for k, v in state.items() if k.startswith(prefixes)})
    return tensors


def load_into(
    module: torch.nn.Module, tensors: dict[str, torch.Tensor], dtype: torch.dtype
) -> None:
    """Assign `tensors` to `module`'s parameters by name; extras are ignored, anything missing or
    misshaped is an error that names it."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise CheckpointError(
            f"checkpoint lacks {len(missing)} tensor(s): {', '.join(missing[:8])}"
        )
    wrong = [
        f"{k} {tuple(tensors[k].shape)} (model expects {tuple(v.shape)})"
        for k, v in expected.items()
        if tensors[k].shape != v.shape
    ]
    if wrong:
        raise CheckpointError(f"checkpoint tensors of the wrong shape: {'; '.join(wrong[:8])}")
    state = {k: tensors[k].to(dtype) for k in expected}
    module.load_state_dict(state, assign=True)


def convert(folder: Path, out: Path, dtype: torch.dtype | None = None) -> Path:
    """Write `folder`'s weights to `out/model.safetensors`, optionally cast to `dtype`."""
    tensors = read_tensors(folder, ("",))
    tensors = {
        k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous()
        for k, v in tensors.items()
        if not k.endswith("position_ids")
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out / "model.safetensors"
