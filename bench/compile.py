"""torch.compile (inductor, CPU) against eager on one family's towers, in one run: an image batch
and one text query, steady state and the first compiled call. The towers run plain `F.linear`
layers here (inductor cannot lower oneDNN's packed weights); bench/model.py times the packed ones.

    python bench/compile.py [--model /tmp/clip-full]   # a folder bench/model.py has built
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import altclip_core  # noqa: E402
from altclip_core import kernels, memory  # noqa: E402

QUERY = "a photo of a sunset over the sea at the beach"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def first(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("/tmp/clip-full"))
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    memory.hold_freed_memory()
    kernels.fit = lambda tower, rows, quantize=None, cache=None: "plain"  # what inductor lowers
    model = altclip_core.load(args.model, device="cpu")
    size = model.config.vision_config.image_size
    pixels = torch.randn(args.batch, 3, size, size)
    ids, mask = model.tokenizer([QUERY])
    eager_image = best(lambda: model.vision_model(pixels), 3)
    eager_text = best(lambda: model.text_model(ids, mask), 10)
    vision, text = torch.compile(model.vision_model), torch.compile(model.text_model)
    cold_image, cold_text = first(lambda: vision(pixels)), first(lambda: text(ids, mask))
    image, query = best(lambda: vision(pixels), 3), best(lambda: text(ids, mask), 10)
    print(
        f"{args.model.name}, {torch.get_num_threads()} threads: image batch {args.batch} eager "
        f"{eager_image * 1e3:.0f} ms, compiled {image * 1e3:.0f} ms "
        f"({eager_image / image:.2f}x), first compiled call {cold_image:.1f} s; text query eager "
        f"{eager_text * 1e3:.1f} ms, compiled {query * 1e3:.1f} ms ({eager_text / query:.2f}x), "
        f"first compiled call {cold_text:.1f} s"
    )


if __name__ == "__main__":
    main()
