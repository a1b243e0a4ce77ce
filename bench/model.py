"""Ours vs transformers on full-size random checkpoints of each family, same machine, same dtype:
AltCLIP (ViT-L/14 + XLM-R large, 864 M parameters), openai/clip-vit-base-patch32 and
OFA-Sys/chinese-clip-vit-base-patch16, built by tests/checkpoints.py in each one's hub layout.

    python bench/model.py [--families altclip clip chinese_clip] [--dtypes float32 bfloat16]
                          [--batch 8] [--device cpu]
    python bench/model.py --smoke   # tiny checkpoints, one repeat: checks the script, times nothing

Prints per family and dtype (default: the device's default dtype) images/s (one batch), one text
query's latency, one tower's load time from safetensors, and how close each dtype's embeddings
stay to the first one's. Needs transformers.
"""

from __future__ import annotations

import argparse
import os
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


def timed(fn, repeat: int) -> float:
    """Best wall time of `repeat` calls after one warm-up."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", nargs="+", default=list(SHAPES), choices=SHAPES)
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, help="default: the device's")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--smoke", action="store_true", help="tiny checkpoints, one repeat")
    args = parser.parse_args()
    if args.smoke:
        args.batch, args.repeat = 2, 1
    if not args.dtypes:
        default = altclip_core.default_dtype(torch.device(args.device))
        args.dtypes = [name for name, dtype in DTYPES.items() if dtype == default]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) if args.smoke else args.root
        for family in args.families:
            full, tiny = SHAPES[family]
            shape = tiny if args.smoke else full
            folder = root / ("altclip-full" if shape == "full" else shape)  # bench/index.py's
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

    ref = AutoModel.from_pretrained(folder, dtype=torch.float32).to(args.device).eval()
    base = None
    for name in args.dtypes:
        ref.to(DTYPES[name])
        ours = altclip_core.load(folder, device=args.device, dtype=DTYPES[name])
        size = ours.config.vision_config.image_size
        pixels = torch.randn(args.batch, 3, size, size, device=args.device)
        t_ref, t_ours, q_ref, q_ours, tokens, embeddings = measure(ref, ours, pixels, args.repeat)
        base = base or embeddings
        cos = min(F.cosine_similarity(e, b).min() for e, b in zip(embeddings, base, strict=True))
        n = args.batch
        print(
            f"{name:9s} images/s: ours {n / t_ours:6.2f}  transformers {n / t_ref:6.2f}  "
            f"ratio {t_ref / t_ours:4.2f}x | {tokens}-token query: ours {q_ours * 1e3:6.1f} ms  "
            f"transformers {q_ref * 1e3:6.1f} ms | min cosine to {args.dtypes[0]}: {cos:.5f}"
        )


@torch.inference_mode()
def measure(ref, ours, pixels: torch.Tensor, repeat: int):
    """Seconds for an image batch, then a query (transformers, ours); the query's length; our
    (image, text) vectors."""
    ids, mask = (t.to(pixels.device) for t in ours.tokenizer([QUERY]))
    half = pixels.to(ours.dtype)
    return (
        timed(lambda: ref.get_image_features(pixel_values=half), repeat),
        timed(lambda: ours.encode_image(pixels), repeat),
        timed(lambda: ref.get_text_features(input_ids=ids, attention_mask=mask), 5),
        timed(lambda: ours.encode_text(ids, mask), 5),
        ids.shape[1],
        (ours.encode_image(pixels), ours.encode_text(ids, mask)),
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
