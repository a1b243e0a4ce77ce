"""Ours vs transformers on full-size random checkpoints of each family, same machine, same dtype:
AltCLIP (ViT-L/14 + XLM-R large, 864 M parameters), openai/clip-vit-base-patch32 and
OFA-Sys/chinese-clip-vit-base-patch16, built by tests/checkpoints.py in each one's hub layout.

    python bench/model.py [--families altclip clip chinese_clip] [--dtypes float32 bfloat16]
                          [--batch 8] [--device cpu] [--no-int8]
    python bench/model.py --smoke   # tiny checkpoints, one repeat: checks the script, times nothing

Prints the CPU with the flags that decide its kernels, then per family and dtype (default: the
device's default dtype) images/s (one batch) and one text query's latency, ours (exact, and int8
on CPU) against transformers measured in the same rounds, the kernels each tower chose, one
tower's load time from safetensors (and, on CPU, the int8 text tower's as a library loads it:
prepared for ONNX Runtime in the cache folder, $ALTCLIP_CACHE, mapped from there later), and
how close each variant's embeddings stay to ours in the first dtype. Needs transformers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import altclip_core  # noqa: E402
from tests import checkpoints  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
QUERY = "a photo of a sunset over the sea at the beach"
# family -> (full-size shape, tiny shape) in tests/checkpoints.SHAPES
SHAPES = {
    "altclip": ("full", "altclip"),
    "clip": ("clip-full", "clip"),
    "chinese_clip": ("chinese-clip-full", "chinese_clip"),
}


def build(family: str, shape: str, folder: Path) -> None:
    """A random checkpoint of `family` in `shape`, in its hub layout, unless `folder` has one."""
    if (folder / "model.safetensors").is_file():
        return
    if family == "altclip":
        with tempfile.TemporaryDirectory() as tmp:
            spm = checkpoints.train_sentencepiece(Path(tmp) / "sentencepiece.bpe.model")
            checkpoints.build(folder, spm, shape, pytorch_bin=False)
    elif family == "clip":
        checkpoints.build_clip(folder, shape)
    else:
        checkpoints.build_chinese_clip(folder, shape, pytorch_bin=False)


def timed(fns: dict, repeat: int) -> dict:
    """Best wall time of each function over `repeat` rounds, interleaved (one call of each per
    round, after one warm-up each), so that a noisy neighbour slows them all alike."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def cpu() -> str:
    """The CPU's model name and the flags that decide its kernels."""
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    name = next((x.split(":", 1)[1].strip() for x in info if x.startswith("model name")), "?")
    flags = set(next((x.split(":", 1)[1].split() for x in info if x.startswith("flags")), []))
    shown = ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16"]
    return f"{name} ({' '.join(f for f in shown if f in flags) or 'no AVX2'})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", nargs="+", default=list(SHAPES), choices=SHAPES)
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, help="default: the device's")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-int8", action="store_true", help="leave out the int8 rows")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--smoke", action="store_true", help="tiny checkpoints, one repeat")
    args = parser.parse_args()
    if args.smoke:
        args.batch, args.repeat = 2, 1
    if not args.dtypes:
        default = altclip_core.default_dtype(torch.device(args.device))
        args.dtypes = [name for name, dtype in DTYPES.items() if dtype == default]
    from altclip_core.memory import hold_freed_memory

    hold_freed_memory()  # as altclip-index runs: transformers, in this process, gains as much
    print(f"{cpu()}; torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) if args.smoke else args.root
        for family in args.families:
            full, tiny = SHAPES[family]
            shape = tiny if args.smoke else full
            folder = root / ("altclip-full" if shape == "full" else shape)  # bench/indexing.py's
            build(family, shape, folder)
            bench(family, folder, args)


def bench(family: str, folder: Path, args: argparse.Namespace) -> None:
    from transformers import AutoModel

    print(f"--- {family} ({folder})")
    for name in args.dtypes:
        for tower in ("text", "vision"):
            start = time.perf_counter()
            altclip_core.load(folder, device=args.device, dtype=DTYPES[name], towers=(tower,))
            print(f"load {tower} tower ({name}, safetensors): {time.perf_counter() - start:.2f} s")
    if args.device == "cpu" and not args.no_int8:  # as a library's first and later opens
        from altclip_core import hub, prepared

        fingerprint = hub.fingerprint(folder)
        for when, load in [
            ("first", lambda: prepared.keep(prepared.make(folder, fingerprint))),
            ("later", lambda: prepared.load(folder, fingerprint)),
        ]:
            start = time.perf_counter()
            load()
            print(f"text tower prepared (int8, ONNX Runtime), {when} load: "
                  f"{time.perf_counter() - start:.2f} s")  # fmt: skip

    ref = AutoModel.from_pretrained(folder, dtype=torch.float32).to(args.device).eval()
    base = None
    for name in args.dtypes:
        dtype = DTYPES[name]
        ref.to(dtype)
        models = {"ours": altclip_core.load(folder, device=args.device, dtype=dtype)}
        if args.device == "cpu" and not args.no_int8:
            models["ours int8"] = altclip_core.load(folder, dtype=dtype, quantize="int8")
        t_image, t_query, tokens, vectors = measure(ref, models, args)
        base = base or vectors["ours"]
        for k, m in models.items():
            cos = min(
                F.cosine_similarity(e, b).min() for e, b in zip(vectors[k], base, strict=True)
            )
            print(
                f"{name:8s} {k:9s} images/s {args.batch / t_image[k]:6.2f} "
                f"({t_image['transformers'] / t_image[k]:4.2f}x transformers) | "
                f"{tokens}-token query {t_query[k] * 1e3:6.1f} ms "
                f"({t_query['transformers'] / t_query[k]:4.2f}x) | kernels {m.kernels} | "
                f"min cosine to {args.dtypes[0]} ours: {cos:.5f}"
            )
        print(
            f"{name:8s} transformers images/s {args.batch / t_image['transformers']:6.2f} | "
            f"query {t_query['transformers'] * 1e3:6.1f} ms"
        )


@torch.inference_mode()
def measure(ref, models: dict, args: argparse.Namespace):
    """Seconds for an image batch and for one query, per model and for transformers; the query's
    length; each model's (image, text) vectors."""
    ours = models["ours"]
    size = ours.config.vision_config.image_size
    pixels = torch.randn(args.batch, 3, size, size, device=args.device).to(ours.dtype)
    ids, mask = (t.to(args.device) for t in ours.tokenizer([QUERY]))
    images = {"transformers": lambda: ref.get_image_features(pixel_values=pixels)}
    query = {"transformers": lambda: ref.get_text_features(input_ids=ids, attention_mask=mask)}
    for k, m in models.items():
        images[k] = lambda m=m: m.encode_image(pixels)
        query[k] = lambda m=m: m.encode_text(ids, mask)
    vectors = {k: (m.encode_image(pixels), m.encode_text(ids, mask)) for k, m in models.items()}
    return timed(images, args.repeat), timed(query, 10), ids.shape[1], vectors


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
