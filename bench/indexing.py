"""Indexer speed, in one run: decode+preprocess images/s on 12-megapixel JPEGs (exact vs draft path,
and how far apart their embeddings are), end-to-end images/s against the model alone with the tiny
model (pipeline overhead) and with the full-size one in float32 and int8 if bench/model.py has
built it, per number of decode workers, and the rerun time on an unchanged 10 000-file folder.

    python bench/indexing.py [--photos 48] [--files 10000] [--workers 1 2] [--batch 16]
    python bench/indexing.py --device cuda --runs float32 --photos 4000 --workers 16
        (on a GPU: the full-size model in bf16, batches sized to the card; enough photos for
        several batches, since the first is left out)
    python bench/indexing.py --words 64 [--share 0.3] [--float32]
        (only what reading the words costs: `words_cost`; --float32: the image tower as a CPU
        without bf16 units, the Zen 3, runs it by default)

Each end-to-end line names the stage that limits the pipeline: decoding alone with as many
threads, or the model alone, whichever is slower.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import altclip_core  # noqa: E402
from altclip_core.memory import hold_freed_memory  # noqa: E402
from altclip_core.preprocess import ImagePreprocessor  # noqa: E402
from indexer import Indexer  # noqa: E402
from indexer.scan import Entry, scan  # noqa: E402
from tests import checkpoints  # noqa: E402
from tests.test_parity import photo  # noqa: E402

FULL = Path(tempfile.gettempdir()) / "altclip-full"


def decode_rate(indexer: Indexer, model: Path, entries: list[Entry]) -> tuple[float, list]:
    decoder = indexer.decoder(model, indexer.library)
    start = time.perf_counter()
    with ThreadPoolExecutor(indexer.workers) as pool:
        decoded = list(pool.map(decoder.decode, entries))
    return len(entries) / (time.perf_counter() - start), decoded


def end_to_end(work: Path, tiny: Path, big: Path, args: argparse.Namespace) -> None:
    """Indexer images/s once the model has loaded (from the first batch's end to the last's),
    against the model alone on batches of the same size and decoding alone with as many
    threads, per decode worker count: the slower of the two stages limits the pipeline. With the
    full-size model, in float32 and int8 (CPU); on --device cuda, in the model's bf16/fp16 with
    the batch the indexer chooses for the card."""
    import torch

    from indexer.embed import cuda_batch

    runs = {
        "tiny": ("tiny", tiny, None),
        "float32": ("full-size", FULL, None),
        "int8": ("full-size", FULL, "int8"),
    }
    entries = list(scan([big]))
    decoding = {
        workers: decode_rate(Indexer(library=work / "scratch", workers=workers), tiny, entries)[0]
        for workers in args.workers
    }
    for run in args.runs:
        name, folder, quantize = runs[run]
        if not folder.is_dir() or (quantize and args.device not in (None, "cpu")):
            continue
        model = altclip_core.load(folder, args.device, towers=("vision",), quantize=quantize)
        vision, batch = model.config.vision_config, args.batch
        if model.device.type == "cuda":
            free = torch.cuda.mem_get_info(model.device)[0]
            batch = cuda_batch(free, vision, model.dtype.itemsize)
        pixels = torch.randn(batch, 3, vision.image_size, vision.image_size, device=model.device)
        with torch.inference_mode():
            model.encode_image(pixels)
            times = []
            for _ in range(2):
                start = time.perf_counter()
                model.encode_image(pixels).cpu()  # .cpu() waits for the GPU
                times.append(time.perf_counter() - start)
            alone = batch / min(times)
        where = f"{model.device.type} {str(model.dtype).removeprefix('torch.')}, batch {batch}"
        del model
        for workers in args.workers:
            done = []
            Indexer(
                library=work / f"lib-{name}-{quantize}-{workers}",
                model=str(folder),
                batch_size=batch,
                workers=workers,
                device=args.device,
                int8=quantize == "int8",
            ).run([big], progress=lambda n, total, done=done: done.append((n, time.perf_counter())))
            (n0, t0), (n1, t1) = done[0], done[-1]
            rate = (n1 - n0) / (t1 - t0) if n1 > n0 else float("nan")
            limit = "decoding" if decoding[workers] < alone else "the model"
            print(
                f"end to end, {name} model{' int8' if quantize else ''} ({where}), {workers} "
                f"decode workers, {torch.get_num_threads()} torch threads: {rate:.2f} img/s "
                f"after the first batch; the model alone {alone:.2f} img/s ({rate / alone:.0%}), "
                f"decoding alone {decoding[workers]:.2f} img/s: {limit} limits the pipeline"
            )


def words_cost(work: Path, args: argparse.Namespace) -> None:
    """Wall time of indexing --words photos of the text world (tests/textworld.py), --share of
    them with words, with the full-size model in its default dtype on this device (bf16 on a
    CPU with bf16 units, else float32; --float32: float32), with reading and without, each into a
    new library, in turns (without, with, without, with): the best of each, and their ratio
    against the 1.25x target (issue 29)."""
    import altclip_core.model
    from bench.model import build
    from tests import textworld

    if args.float32:  # every load's default, as on a CPU without bf16 units
        altclip_core.model.default_dtype = lambda device: torch.float32

    build("altclip", "full", FULL)
    photos = work / "text-world"
    photos.mkdir()
    texts = round(args.words * args.share)
    for p in textworld.world(0, texts, args.words - texts):
        (photos / p.name).write_bytes(p.jpeg)
    best = {False: float("inf"), True: float("inf")}
    for turn, words in enumerate((False, True, False, True)):
        library = work / f"lib-words-{turn}"
        start = time.perf_counter()
        Indexer(library=library, model=str(FULL), device=args.device, words=words).run([photos])
        best[words] = min(best[words], time.perf_counter() - start)
    dtype = "float32" if args.float32 else "default dtype"
    print(
        f"{args.words} photos ({texts} with words), full-size model, {args.device or 'default'} "
        f"device, {dtype}: indexed in {best[False]:.1f} s without words, {best[True]:.1f} s with "
        f"({best[True] / best[False]:.2f}x; target <= 1.25x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--batch", type=int, default=16, help="the indexer's default")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="decode threads")
    parser.add_argument(
        "--runs", nargs="+", default=["tiny", "float32", "int8"], help="models end to end"
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--device", help="cuda, mps or cpu (default: the fastest available)")
    parser.add_argument("--words", type=int, help="only the cost of reading, on this many photos")
    parser.add_argument("--share", type=float, default=0.3, help="of --words, photos with words")
    parser.add_argument(
        "--float32", action="store_true", help="--words: the image tower in float32"
    )
    args = parser.parse_args()
    hold_freed_memory()  # as altclip-index does
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    if args.words:
        return words_cost(work, args)
    tiny = work / "tiny"
    checkpoints.build(tiny, checkpoints.train_sentencepiece(work / "spm.model"))

    big = work / "12mp"
    big.mkdir()
    for i in range(args.photos):
        photo(4000, 3000, i).save(big / f"{i}.jpg", quality=90)
    entries = list(scan([big]))
    rates, preprocess = {}, ImagePreprocessor.from_folder(tiny)
    for exact in (True, False):
        options = Indexer(library=work / "scratch", exact_decode=exact)
        rates[exact], decoded = decode_rate(options, tiny, entries)
        pixels = np.stack([preprocess.normalise(d.pixels) for d in decoded])
        if exact:
            exact_pixels = pixels
    model = altclip_core.load(FULL if FULL.is_dir() else tiny, towers=("vision",))
    import torch

    a = model.encode_image(torch.from_numpy(exact_pixels))
    b = model.encode_image(torch.from_numpy(pixels))
    print(
        f"decode+hash+thumbnail+preprocess, 12 MP JPEG, {options.workers} threads: "
        f"exact {rates[True]:.1f} img/s, draft {rates[False]:.1f} img/s"
    )
    print(
        f"draft vs exact: pixel max abs diff {np.abs(pixels - exact_pixels).max():.3f}, "
        f"embedding min cosine {F.cosine_similarity(a, b).min():.5f} "
        f"({'full-size random' if FULL.is_dir() else 'tiny random'} model)"
    )

    end_to_end(work, tiny, big, args)

    many = work / "many"
    for i in range(args.files):
        sub = many / f"{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 24), (i % 256, i // 256 % 256, 7)).save(sub / f"{i}.jpg")
    library = work / "lib-many"
    first = Indexer(library=library, model=str(tiny), batch_size=64).run([many])
    cmd = [
        sys.executable,
        "-m",
        "indexer",
        str(many),
        "--library",
        str(library),
        "--model",
        str(tiny),
    ]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    print(
        f"{args.files} files: first run {first.seconds:.1f} s; unchanged rerun "
        f"{time.perf_counter() - start:.2f} s for the whole command ({out.strip()})"
    )


if __name__ == "__main__":
    main()
