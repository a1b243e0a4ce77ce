"""Reading words on the text world (tests/textworld.py): how well the words are read, how many
photos that hold words the needs-reading rule skips, and what reading costs, per photo with words
and without.

    python bench/words.py [--text 300] [--plain 300] [--seed 0] [--threads 1]
                          [--glance 640 800 960] [--full 100] [--share 0.1] [--tower]

Prints the CPU (model name and its flags, avx512_bf16 among them where it has it) and how busy
the machine was (load average before and after: on shared cores every second is rough, the
ratios between rows less so), then one row per way of reading:
- `glance N` (indexer/read.py's rule at N pixels: a look by the detector decides, the lines it
  finds are recognised from the photo at 1600): text photos skipped (the look saw no line),
- `full look` (Reader.read: the detector at 1600 on every photo) on the first --full photos of
  each kind, the baseline;
each with the character accuracy (1 - CER, tests.textworld.char_errors) on the photos with
words, photos without words where it read something (and what), seconds per photo with words
and without (decoding excluded: that is the decode stage's), and a library's average where
--share of the photos hold words. The ways take turns on each photo, so that each sees the
machine as busy as the others. With --tower, AltCLIP's image tower (ViT-L/14 at 224, random
weights, float32, as many threads as the reading) takes turns with them every 20 photos, so
that reading can be set against the 1.25x target as a ratio of CPU work.

Recall@10 of word queries (Chinese words of 2-6 characters and English words taken from the
photos) needs the words lookup, another round's: `queries(photos)` makes the queries and
`recall_at_10(search, queries)` measures any search given as a function of the query text.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.model import cpu  # noqa: E402
from indexer.ocr import Reader  # noqa: E402
from indexer.read import needs_reading, read_photo  # noqa: E402
from tests import textworld  # noqa: E402

TARGET_S = 0.25  # reading's share of a photo's indexing time: 1.25x a ~1 s image tower


@dataclass
class Way:
    """One way of reading and what it did over the photos."""

    name: str
    read: Callable  # image -> Read
    rule: Callable | None = None  # image -> whether the rule reads it at all
    only: set | None = None  # the photos' names it runs on (None: all)
    edits: int = 0
    chars: int = 0
    seconds: dict = field(default_factory=lambda: {True: [], False: []})
    nothing: list = field(default_factory=list)  # photos with words where it read nothing
    skipped: list = field(default_factory=list)  # ... because the rule did not read them
    noise: list = field(default_factory=list)  # photos without words where it read something

    def run(self, p: textworld.TextPhoto, image) -> None:
        start = time.perf_counter()
        said = [x.text for x in self.read(image).lines]
        self.seconds[bool(p.lines)].append(time.perf_counter() - start)
        if p.lines:
            e, c = textworld.char_errors(p.lines, said)
            self.edits, self.chars = self.edits + e, self.chars + c
            if not said:
                self.nothing.append(p.name)
                if self.rule and not self.rule(image):
                    self.skipped.append(p.name)
        elif said:
            self.noise.append(f"{p.kind}: {' '.join(said)[:20]}")

    def report(self, share: float) -> float:
        """Prints its row; returns its seconds per photo in a library `share` with words."""
        texts, plains = (len(self.seconds[k]) for k in (True, False))
        per = {k: float(np.mean(v)) if v else 0.0 for k, v in self.seconds.items()}
        library = (1 - share) * per[False] + share * per[True]
        print(
            f"{self.name:>12}  accuracy {1 - self.edits / max(self.chars, 1):.4f}  read nothing "
            f"in {len(self.nothing)}/{texts} with words ({100 * len(self.nothing) / texts:.1f} %)"
            + (f", the rule skipped {len(self.skipped)}" if self.rule else "")
            + f"  read something in {len(self.noise)}/{plains} without  s/photo "
            f"{per[True]:.3f} with, {per[False]:.3f} without, {library:.3f} at {share:.0%}"
        )
        if self.nothing:
            print(f"{'':>14}read nothing in: {' '.join(self.nothing[:12])}")
        if self.noise:
            print(f"{'':>14}read without words: {'; '.join(self.noise[:8])}")
        return library


def tower(threads: int, batch: int = 4) -> Callable[[], float]:
    """A function timing one batch of AltCLIP's image tower (ViT-L/14 at 224, random weights,
    float32) on `threads` threads, as many as the reading's: CPU work against CPU work."""
    import torch

    torch.set_num_threads(threads)
    from altclip_core.config import VisionConfig
    from altclip_core.vision import VisionTower

    cfg = VisionConfig(1024, 4096, 24, 16, patch_size=14)
    model = VisionTower(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    x = torch.randn(batch, 3, cfg.image_size, cfg.image_size)

    def timed() -> float:
        with torch.inference_mode():
            start = time.perf_counter()
            model(x)
        return (time.perf_counter() - start) / batch

    timed()  # warm
    return timed


def queries(photos: list) -> dict[str, set[str]]:
    """Word queries -> the photos that hold them: each photo's words (textworld.TextPhoto.words:
    Chinese words of 2-6 characters, English words of 3 letters or more)."""
    found: dict[str, set[str]] = {}
    for p in photos:
        for word in p.words:
            found.setdefault(word, set()).add(p.name)
    return found


def recall_at_10(search: Callable[[str], list[str]], asked: dict[str, set[str]]) -> float:
    """Mean over queries of the share of a query's photos in its first ten results (of at most
    ten: a word on 30 photos is fully found by any ten of them)."""
    shares = [len(set(search(q)[:10]) & names) / min(10, len(names)) for q, names in asked.items()]
    return float(np.mean(shares)) if shares else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", type=int, default=300, help="photos with words")
    parser.add_argument("--plain", type=int, default=300, help="photos without")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime's, per model run")
    parser.add_argument("--glance", type=int, nargs="+", default=[800], help="glance sizes")
    parser.add_argument("--full", type=int, default=100, help="photos of each kind, full look")
    parser.add_argument("--share", type=float, default=0.1, help="of a library, with words")
    parser.add_argument("--tower", action="store_true", help="time the image tower too")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0))
    print(f"CPU: {cpu()}, {cores} cores; load average {os.getloadavg()[0]:.1f} at the start")
    photos = list(textworld.world(args.seed, args.text, args.plain))
    reader = Reader(threads=args.threads)
    print(
        f"text world seed {args.seed}: {args.text} photos with words, {args.plain} without; "
        f"onnxruntime threads {args.threads}; the ways take turns on each photo"
    )
    ways = [
        Way(
            f"glance {side}",
            lambda im, s=side: read_photo(reader, im, s),
            lambda im, s=side: needs_reading(reader, im, s),
        )
        for side in args.glance
    ]
    if args.full:
        sample = [p for p in photos if p.lines][: args.full] + [p for p in photos if not p.lines][
            : args.full
        ]
        ways.append(Way("full look", reader.read, only={p.name for p in sample}))
    timed, towers = tower(args.threads) if args.tower else None, []
    for i, p in enumerate(photos):
        image = p.image()
        image.load()  # decoding is the decode stage's cost, not reading's
        for way in ways[i % len(ways) :] + ways[: i % len(ways)]:  # each goes first in turn
            if way.only is None or p.name in way.only:
                way.run(p, image)
        if timed and i % 20 == 0:
            towers.append(timed())
    libraries = [way.report(args.share) for way in ways]
    if towers:
        t = float(np.mean(towers))
        print(
            f"image tower: {t:.3f} s/photo on {args.threads} thread(s), taking turns with the "
            "reading; reading adds "
            + ", ".join(f"{x / t:.0%} ({w.name})" for x, w in zip(libraries, ways, strict=True))
        )
    else:
        print(f"target: <= {TARGET_S} s/photo on average (a ~1 s/photo image tower, 1.25x)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    asked = queries(photos)
    print(
        f"recall@10: {len(asked)} word queries made from the photos; measuring them needs the "
        "words lookup (issue 29, next round): recall_at_10(search, queries(photos))"
    )


if __name__ == "__main__":
    main()
