"""Ours vs transformers on a full-size random AltCLIP (864 M parameters), same machine, same dtype.

    python bench/model.py [--dtypes float32 bfloat16] [--batch 8] [--device cpu]

Prints images/s (one batch), one 12-token text query's latency, one tower's load time from
safetensors, and how close each dtype's embeddings stay to float32. Needs transformers.
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
QUERY = "a photo of a sunset over the sea at the beach"  # 12 tokens with <s> and </s>


def build_full_size(folder: Path) -> None:
    """A random BAAI/AltCLIP-shaped checkpoint (ViT-L/14 + XLM-R large) in the hub's layout."""
    if not (folder / "model.safetensors").is_file():
        with tempfile.TemporaryDirectory() as tmp:
            spm = checkpoints.train_sentencepiece(Path(tmp) / "sentencepiece.bpe.model")
            checkpoints.build(folder, spm, "full", pytorch_bin=False)


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
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=DTYPES)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "altclip-full")
    args = parser.parse_args()
    from transformers import AltCLIPModel

    args.folder.mkdir(exist_ok=True)
    build_full_size(args.folder)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")

    for name in args.dtypes:
        for tower in ("text", "vision"):
            start = time.perf_counter()
            altclip_core.load(args.folder, device=args.device, dtype=DTYPES[name], towers=(tower,))
            print(f"load {tower} tower ({name}, safetensors): {time.perf_counter() - start:.2f} s")

    ref = AltCLIPModel.from_pretrained(args.folder, dtype=torch.float32).to(args.device).eval()
    pixels = torch.randn(args.batch, 3, 224, 224, device=args.device)
    base = None
    for name in args.dtypes:
        ref.to(DTYPES[name])
        ours = altclip_core.load(args.folder, device=args.device, dtype=DTYPES[name])
        t_ref, t_ours, q_ref, q_ours, embeddings = measure(ref, ours, pixels, args.repeat)
        base = base or embeddings
        cos = min(F.cosine_similarity(e, b).min() for e, b in zip(embeddings, base, strict=True))
        n = args.batch
        print(
            f"{name:9s} images/s: ours {n / t_ours:6.2f}  transformers {n / t_ref:6.2f}  "
            f"ratio {t_ref / t_ours:4.2f}x | 12-token query: ours {q_ours * 1e3:6.1f} ms  "
            f"transformers {q_ref * 1e3:6.1f} ms | min cosine to {args.dtypes[0]}: {cos:.5f}"
        )


@torch.inference_mode()
def measure(ref, ours, pixels: torch.Tensor, repeat: int):
    """Seconds for an image batch, then a query (transformers, ours); our (image, text) vectors."""
    ids, mask = (t.to(pixels.device) for t in ours.tokenizer([QUERY]))
    half = pixels.to(ours.dtype)
    return (
        timed(lambda: ref.get_image_features(pixel_values=half), repeat),
        timed(lambda: ours.encode_image(pixels), repeat),
        timed(lambda: ref.get_text_features(input_ids=ids, attention_mask=mask), 5),
        timed(lambda: ours.encode_text(ids, mask), 5),
        (ours.encode_image(pixels), ours.encode_text(ids, mask)),
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
