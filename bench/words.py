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

The figures of the product as a whole, the words read by the indexer and found by
`Library.search`, are bench/quality.py's (`python bench/quality.py --with words`): it uses
`indexed` (the text world indexed with reading on) and `indexed_figures`, and with them this
file's recall@10 helpers: `queries(photos)` (Chinese words of 2-6 characters and English words
taken from the photos, one query per folded spelling) and `recall_at_10(search, queries)`, which
measures any search given as a function of the query text. Measured there (text world seed 1,
the toy model; AMD EPYC, 2 cores shared with other work, load average 2-5, 2.5-4.5 min a run):
character accuracy 0.994, recall@10 0.994 (127 queries), precision of the hits found by their
words 0.985 (15 wrong of 1014, every one a slip: "Moon" in MONDAY, "Free" in Green, "Today" in
birthday), photos with words the glance skipped 1.7 % (5 of 300, all small stamps); the toy
world's default figures the same with words read and not.
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
from search.words import fold  # noqa: E402
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
    """Word queries -> the photos that hold them. The queries: the photos' words
    (textworld.TextPhoto.words: Chinese words of 2-6 characters, English words of 3 letters or
    more), one per folded spelling (search.words.fold: "THE" and "The" are one query, as they
    are one to the lookup). A query's photos: those with a line that holds it, both folded, as
    the lookup compares them ("Tea" is in "River Tea Room", and "Tel" in "Golden Hotel")."""
    spelled: dict[str, str] = {}
    for word in sorted({w for p in photos for w in p.words}):
        spelled.setdefault(fold(word), word)
    lines = {p.name: [fold(line) for line in p.lines] for p in photos}
    return {
        word: {name for name, said in lines.items() if any(f in x for x in said)}
        for f, word in spelled.items()
    }


def recall_at_10(search: Callable[[str], list[str]], asked: dict[str, set[str]]) -> float:
    """Mean over queries of the share of a query's photos in its first ten results (of at most
    ten: a word on 30 photos is fully found by any ten of them)."""
    shares = [len(set(search(q)[:10]) & names) / min(10, len(names)) for q, names in asked.items()]
    return float(np.mean(shares)) if shares else 0.0


def indexed(folder: Path, model: Path, seed: int, text: int = 300, plain: int = 300):
    """The text world `seed` written under `folder`/album and indexed with reading on into
    `folder`/library, embedded by `model` (any: the words need no real one).

    Returns:
        (search.Library, the photos: textworld.TextPhoto)."""
    from indexer import Indexer
    from search import Library

    photos = list(textworld.world(seed, text, plain))
    album = folder / "album"  # not "photos": a folder's name is a line too, and a query here
    album.mkdir(parents=True, exist_ok=True)
    for p in photos:
        (album / p.name).write_bytes(p.jpeg)
    Indexer(library=folder / "library", model=str(model)).run([album])
    return Library.open(folder / "library"), photos


def stored_lines(lib) -> dict[str, list[str]]:
    """{file name: the lines the indexer stored for it, in reading order} for every photo it
    read (one with a `readings` row), the line of its file's name aside."""
    from sqlalchemy import select

    from search.schema import Photo, Reading, WordLine

    with lib.catalog.engine.connect() as c:
        read = c.execute(select(Photo.path).join(Reading, Reading.photo == Photo.id)).scalars()
        said: dict[str, list[str]] = {Path(path).name: [] for path in read}
        rows = c.execute(
            select(Photo.path, WordLine.text)
            .join(WordLine, WordLine.photo == Photo.id)
            .where(WordLine.box != "null")  # a name's line has no box
            .order_by(WordLine.id)
        )
        for path, text in rows:
            said[Path(path).name].append(text)
    return said


def indexed_figures(lib, photos: list, say: Callable[[str], None] = print) -> dict[str, float]:
    """What the product made of the text world `indexed` into `lib`: the character accuracy of
    the lines it stored, the share of photos with words it stored no line for (and of those, how
    many indexer/read.py's rule skipped: a glance again), recall@10 of `queries(photos)` through
    `lib.search(q, k=10)`, and the precision of the hits found by their words (`Hit.words`):
    the share whose photo's lines hold the query, folded. `say` is told the misses, a few each.
    """
    from search.query import parse

    said = stored_lines(lib)
    texts, plains = [p for p in photos if p.lines], [p for p in photos if not p.lines]
    edits = chars = 0
    for p in texts:
        e, c = textworld.char_errors(p.lines, said.get(p.name, []))
        edits, chars = edits + e, chars + c
    unread = [p.name for p in photos if p.name not in said]
    nothing = [p for p in texts if not said.get(p.name)]
    reader = Reader()
    skipped = [p.name for p in nothing if not needs_reading(reader, p.image())]
    noise = [f"{p.name}: {' '.join(said[p.name])[:20]}" for p in plains if said.get(p.name)]
    if unread:
        say(f"  not read at all (no readings row): {len(unread)}: {' '.join(unread[:8])}")
    say(
        f"  photos with words, no line stored: {len(nothing)}/{len(texts)}, the rule skipped "
        f"{len(skipped)}: {' '.join(skipped[:8])}; read empty: "
        + " ".join(p.name for p in nothing if p.name not in skipped)
    )
    say(f"  photos without words, lines stored: {len(noise)}/{len(plains)}: {'; '.join(noise[:6])}")

    asked, results = queries(photos), {}

    def search(q: str) -> list[str]:
        results[q] = lib.search(q, k=10)
        return [Path(h.path).name for h in results[q]]

    recall = recall_at_10(search, asked)
    by_words = [(q, h) for q, hits in results.items() for h in hits if h.words is not None]
    wrong = [(q, h) for q, h in by_words if Path(h.path).name not in asked[q]]
    missed = []
    for q, names in asked.items():
        found = {Path(h.path).name for h in results[q]} & names
        if len(found) < min(10, len(names)):
            lost = sorted(names - found)[0]
            if fold(parse(q).text) != fold(q):
                why = f"read as a date: {parse(q).phrases}"
            elif any(fold(q) in fold(x) for x in said.get(lost, [])):
                why = f"{lost}'s words hold it; not in the 10"
            else:
                why = f"{lost} read as {' | '.join(said.get(lost, []))[:60]!r}"
            missed.append(f"{q}: {len(found)}/{min(10, len(names))} ({why})")
    say(f"  word queries: {len(asked)}; missed in part or whole: {len(missed)}")
    for line in missed[:12]:
        say(f"    {line}")

    def slipped(hits: list) -> int:  # found with one edit (search.words.near), not exactly
        return sum(fold(q) not in fold(h.words.text) for q, h in hits)

    say(
        f"  found by their words: {len(by_words)} hits ({slipped(by_words)} by a slip), "
        f"wrong: {len(wrong)} ({slipped(wrong)} by a slip)"
    )
    for q, h in wrong[:20]:
        slip = " (a slip)" if slipped([(q, h)]) else ""
        say(f"    {q} -> {Path(h.path).name}: {h.words.text!r}{slip}")
    right = [(q, h) for q, h in by_words if Path(h.path).name in asked[q] and slipped([(q, h)])]
    if right:
        say("  right by a slip: " + "; ".join(f"{q} in {h.words.text!r}" for q, h in right[:10]))
    return {
        "words: character accuracy (1 - CER)": 1 - edits / max(chars, 1),
        "words: recall@10 of word queries": recall,
        "words: precision of hits by words": (len(by_words) - len(wrong)) / max(len(by_words), 1),
        "words: text photos the rule skipped": len(skipped) / len(texts),
        "words: text photos, no line stored": len(nothing) / len(texts),
        "words: plain photos, a line stored": len(noise) / max(len(plains), 1),
    }


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
    print(
        f"recall@10 of the {len(queries(photos))} word queries made from these photos, through "
        "the indexer and Library.search: python bench/quality.py --with words"
    )


if __name__ == "__main__":
    main()
