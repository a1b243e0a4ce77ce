"""Every search-quality figure of the toy world (tests/toyworld.py), in one run: a tiny AltCLIP
trained on coloured shapes, run through the product's own code (altclip_core.load, the indexer,
`Library.search`). The figures are tests/toyquality.py's, on the held-out seeds the tests use;
tests/test_toyworld.py asserts the same targets.

    python bench/quality.py                      # the default figures
    python bench/quality.py --with duplicates explain   # and figures that are off by default
    python bench/quality.py --with words         # words in photos, on the text world (minutes)
    python bench/quality.py --only recall match  # some of them
    python bench/quality.py --list               # what there is
    python bench/quality.py --calibrate          # search.relevance's thresholds, on other seeds
    python bench/quality.py --model DIR          # another toy model (toyworld.build's output)

A figure is one function, registered with `@figure(name)`: it takes the `World` (the model, a
library of toy photos, a scratch folder, the seeds) and returns {label: value}. Calibration
figures are only real-weight figures in the sense that the code path is the product's: the
model is the toy one, and so are the photos. The `words` figure reads the words in the photos of
tests/textworld.py's world (bench/words.py), the toy model embedding them.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search import relevance  # noqa: E402
from search.matching import Rules  # noqa: E402
from search.relevance import Background, Thresholds  # noqa: E402
from tests import toyquality, toyworld  # noqa: E402
from tests.toyquality import CALIBRATION, HELD_OUT, LANGS  # noqa: E402


@dataclass
class World:
    """What the figures measure with, made on first use."""

    scratch: Path
    seeds: dict[str, int] = field(default_factory=lambda: dict(HELD_OUT))
    model_path: Path | None = None  # another toy model (an experiment's) than toyworld's own
    words: bool = True  # the library's words read, as the indexer does by default
    results: dict[str, dict[str, float]] = field(default_factory=dict)  # figures measured

    @functools.cached_property
    def model(self) -> Path:
        return self.model_path or toyworld.model_folder()

    @functools.cached_property
    def tower(self):
        """The toy model as `altclip_core.load` gives it, both towers, on CPU."""
        import altclip_core

        return altclip_core.load(self.model, device="cpu")

    @functools.cached_property
    def library(self) -> toyquality.ToyLibrary:
        root = self.scratch / f"library-{self.seeds['library']}"
        return toyquality.build_library(
            root, self.model, seed=self.seeds["library"], words=self.words
        )

    def measure(self, name: str) -> dict[str, float]:
        """The figure `name` on this world, measured once."""
        if name not in self.results:
            self.results[name] = FIGURES[name].measure(self)
        return self.results[name]


@dataclass(frozen=True)
class Figure:
    measure: Callable[[World], dict[str, float]]
    default: bool


FIGURES: dict[str, Figure] = {}


def figure(name: str, default: bool = True):
    """Register `measure(world) -> {label: value}` as the figure `name`; `default=False` for
    one that runs only when asked for (`--with name`)."""

    def register(measure):
        FIGURES[name] = Figure(measure, default)
        return measure

    return register


@figure("recall")
def recall(world: World) -> dict[str, float]:
    """Recall@5 of held-out full captions against their scenes (target 0.9)."""
    seed = world.seeds["recall"]
    return {f"recall@5 {lang}": toyquality.recall_at_5(world.model, lang, seed) for lang in LANGS}


@figure("match")
def match(world: World) -> dict[str, float]:
    """Precision and recall of `Hit.match` over queries the library has answers for (0.9)."""
    out = {}
    for lang in LANGS:
        p, r = toyquality.match_quality(world.library, lang, world.seeds["match"])
        out |= {f"match precision {lang}": p, f"match recall {lang}": r}
    return out


@figure("absent")
def absent(world: World) -> dict[str, float]:
    """Share of queries about a subject the library lacks that return nothing (0.9)."""
    seed = world.seeds["absent"]
    return {
        f"absent subject, no match {lang}": toyquality.absent_no_match(world.library, lang, seed)
        for lang in LANGS
    }


@figure("image")
def image(world: World) -> dict[str, float]:
    """Image and image+text queries: precision of the matches (0.9), share answered (1)."""
    found = toyquality.image_queries(world.library, world.scratch, world.seeds["image"])
    out = {}
    for mode, (precision, answered) in found.items():
        out |= {f"{mode} query precision": precision, f"{mode} queries answered": answered}
    return out


@figure("duplicates", default=False)
def duplicates(world: World) -> dict[str, float]:
    """Near-duplicate groups of the toy world: found whole (0.95), distinct scenes merged (0.01);
    then the same photos indexed: as the indexer stored them, and as found per call before."""
    from tests import toydup

    whole, merged = toydup.duplicate_figures(world.tower)
    stored, before = indexed_duplicates(world)
    return {
        "duplicate groups found whole": whole,
        "distinct scenes merged": merged,
        "indexed, stored: found whole": stored[0],
        "indexed, stored: merged": stored[1],
        "indexed, per call (before): whole": before[0],
        "indexed, per call (before): merged": before[1],
    }


def indexed_duplicates(world: World, n: int = 400) -> list[tuple[float, float]]:
    """`toydup.duplicate_figures`' photos (its seed, scenes and copies) written as PNG files and
    indexed: (found whole, merged) of the groups the indexer stored, and of the method that
    `Library.duplicates()` ran per call before they were stored (`search.duplicates.groups`
    over the library's vectors and thumbnails, at its relevance background's thresholds). Both
    compare thumbnails (WebP) where `duplicate_figures` compares the pictures themselves."""
    from indexer import Indexer
    from search import Library, copies
    from search.duplicates import groups
    from tests import toydup

    rng = np.random.default_rng(toydup.SEEDS["duplicates"])
    scenes = toyworld.distinct_scenes(rng, n)
    images, origin, _ = toydup.photos_with_copies(rng, n, scenes=scenes)
    root = world.scratch / "duplicates"
    (root / "photos").mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        image.save(root / "photos" / f"{i:04d}.png")
    Indexer(library=root / "library", model=str(world.model)).run([root / "photos"])
    lib = Library.open(root / "library")
    ids, vectors = (np.concatenate(a) for a in zip(*lib.catalog.vectors(), strict=True))
    row = {i: int(Path(p.path).stem) for i, p in lib.catalog.photos(ids.tolist()).items()}
    stored = [[leader, *(m for m, _ in rest)] for leader, rest in lib.catalog.copy_groups().items()]
    threshold, candidate = copies.thresholds(lib.matching.background(lib.refresh()))
    hashes = lib.catalog.hashes(ids.tolist())

    def looks(r: int) -> np.ndarray | None:
        return lib.copies.look(hashes[int(ids[r])])

    before = groups(ids, vectors, threshold, looks=looks, candidate=candidate)
    return [
        toydup.found_and_merged([[row[i] for i in g] for g in found], origin)
        for found in (stored, before)
    ]


@figure("explain", default=False)
def explain(world: World) -> dict[str, float]:
    """Heat maps of two-shape pictures that peak on the queried shape (0.8)."""
    from tests import toydup

    return {"heat map peak on the queried shape": toydup.peak_figure(world.tower)}


@figure("separation", default=False)
def separation(world: World) -> dict[str, float]:
    """What the model sees: per attribute, a linear probe's accuracy on half the library's image
    vectors, trained on the other half; per language, the mean AUC of the photos a query names
    against its other photos, and the best any per-query cut-off could do (each query's best-F1
    threshold, chosen knowing the truth): pooled precision and recall."""
    import torch

    toy = world.library
    ids, vectors = (np.concatenate(a) for a in zip(*toy.lib.catalog.vectors(), strict=True))
    out, half = {}, len(ids) // 2
    x = torch.from_numpy(vectors)
    for attribute, values in zip(fields(toyworld.Scene), toyworld._VALUES, strict=True):
        name = attribute.name
        y = torch.tensor([values.index(getattr(toy.scenes[i], name)) for i in ids.tolist()])
        torch.manual_seed(0)  # the same probe every run
        probe = torch.nn.Linear(x.shape[1], len(values))
        opt = torch.optim.Adam(probe.parameters(), lr=0.05)
        for _ in range(300):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(probe(x[:half]), y[:half])
            (loss + 1e-3 * probe.weight.square().sum()).backward()
            opt.step()
        right = probe(x[half:]).argmax(1) == y[half:]
        out[f"probe {name}"] = right.float().mean().item()
    for lang in LANGS:
        aucs, right, found, relevant = [], 0, 0, 0
        for q in toyquality.shown_queries(toy, world.seeds["match"]):
            scores = vectors @ toy.lib.embed_text(toyworld.caption(q, lang))
            truth = np.array([q.describes(toy.scenes[i]) for i in ids.tolist()])
            aucs.append((scores[truth][:, None] > scores[~truth][None]).mean())
            hit = truth[np.argsort(-scores)].cumsum()  # matches among the k best, k = 1, 2, ...
            k = int(np.argmax(2 * hit / (np.arange(1, len(hit) + 1) + truth.sum())))
            right, found, relevant = right + hit[k], found + k + 1, relevant + truth.sum()
        out[f"AUC {lang}"] = float(np.mean(aucs))
        out[f"oracle cut-off precision {lang}"] = right / found
        out[f"oracle cut-off recall {lang}"] = right / relevant
    return out | image_separation(world, ids, vectors)


def image_separation(world: World, ids: np.ndarray, vectors: np.ndarray) -> dict[str, float]:
    """For 20 new pictures of scenes the library shows, the share whose k-th best photo (copies
    aside, k = 1 to 3) shows the picture's colour and kind ("alike"); for those and 20 pictures
    of scenes it lacks (a star or purple), the median standing of the best photo (z against the
    library: `relevance.Background`)."""
    toy, background = world.library, Background.fit(vectors)
    rng = np.random.default_rng(world.seeds["image"])
    lacking = (toyworld.random_scene(rng) for _ in range(1000))
    pictures = {
        "shown": list(toy.scenes.values())[:20],
        "lacking": [q for q in lacking if q.kind == "star" or q.colour == "purple"][:20],
    }
    alike, out = [], {}
    for name, scenes in pictures.items():
        best = []
        for i, scene in enumerate(scenes):
            path = world.scratch / f"separation-{name}-{i}.jpg"
            path.write_bytes(toyworld.photo_bytes(scene, rng))
            query = toy.lib.query_vector(None, image=path, dates=False)
            scores = vectors @ query
            scores[scores >= relevance.COPY] = -1.0  # copies aside
            best.append(background.standing(query, scores.max(keepdims=True))[0])
            if name == "shown":
                like = toyworld.Scene(kind=scene.kind, colour=scene.colour)
                alike.append([like.describes(toy.scenes[j]) for j in ids[np.argsort(-scores)[:3]]])
        out[f"image query, best z, {name}"] = float(np.median(best))
    for k, share in enumerate(np.mean(alike, axis=0), 1):
        out[f"image query, best {k} alike"] = share
    return out


TEXT_SEED = 1  # the text world's; seed 0 chose indexer/read.py's GLANCE and GLANCE_BOX


@figure("words", default=False)
def words(world: World) -> dict[str, float]:
    """Words in photos (issue 29) on the text world (tests/textworld.py, 300 photos with words
    and 300 without, seed TEXT_SEED) indexed with reading on, the toy model embedding: the
    character accuracy of the lines stored, recall@10 of word queries through `Library.search`
    (0.95), precision of the hits found by their words (0.95), photos with words the glance
    skipped (<= 0.02); then the default figures with the toy library's words read and not
    (unchanged). A few minutes: 600 photos read on the CPU, nothing cached between runs."""
    from bench import words as reading
    from bench.model import cpu

    def busy(when: str) -> None:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"  {when}: load average {load} (1, 5, 15 min; the cores are shared)", flush=True)

    print(f"  CPU: {cpu()}, {len(os.sched_getaffinity(0))} cores", flush=True)
    busy("start")
    started = time.monotonic()
    lib, photos = reading.indexed(world.scratch / "text", world.model, TEXT_SEED)
    print(f"  text world seed {TEXT_SEED} indexed: {time.monotonic() - started:.0f} s", flush=True)
    out = reading.indexed_figures(lib, photos)
    off = World(world.scratch / "words-off", dict(world.seeds), world.model_path, words=False)
    print(f"  {'default figure':40} {'words on':>8} {'off':>8} {'on - off':>8}")
    change = 0.0
    for name in (n for n, f in FIGURES.items() if f.default):
        both = world.measure(name), off.measure(name)
        for label, on in both[0].items():
            diff = on - both[1][label]
            change = max(change, abs(np.nan_to_num(diff)))
            print(f"  {label:40} {on:8.3f} {both[1][label]:8.3f} {diff:+8.3f}")
    busy("end")
    return out | {"toy figures, largest |on - off|": change}


def calibrate(world: World, zs: list[float], rhos: list[float]) -> None:
    """Print the figures of each ANSWERED x SPREAD (text queries, and so mixed ones, which
    their text decides) and each Z x RHO (image queries) of search.relevance on the calibration
    seeds; each query is measured once (`Library.measured`: its results and what their matches
    rest on) and decided by the product's own rules (`Measured.decide`) with each grid's
    thresholds (`relevance.Thresholds`)."""
    toy = world.library
    lib, seeds, measured = toy.lib, world.seeds, {}

    def cut(answered=relevance.ANSWERED, spread=relevance.SPREAD, z=relevance.Z, rho=relevance.RHO):
        rules = Rules(Thresholds(answered, spread, z, rho))

        def decide(text, image):  # every photo is a result
            if (text, image) not in measured:
                found = lib.measured(text, image=image, k=len(toy.scenes), dates=False)
                measured[text, image] = found
            found = measured[text, image]
            return dict(zip(found.ids.tolist(), found.decide(rules).tolist(), strict=True))

        return decide

    columns = ("P zh", "R zh", "P en", "R en", "absent")
    print("text: ANSWERED SPREAD " + "  ".join(f"{c:>8}" for c in columns))
    best = (-1.0, None)
    for answered in (-0.03, -0.02, -0.015, -0.01, -0.005, 0.0):
        for spread in (0.04, 0.05, 0.055, 0.06, 0.065, 0.07, 0.075, 0.08):
            decide = cut(answered, spread)
            row = [
                v for la in LANGS for v in toyquality.match_quality(toy, la, seeds["match"], decide)
            ]
            row.append(
                min(toyquality.absent_no_match(toy, la, seeds["absent"], decide) for la in LANGS)
            )
            print(
                f"      {answered:<+8} {spread:<6} " + "  ".join(f"{v:8.3f}" for v in row),
                flush=True,
            )
            best = max(best, (min(np.nan_to_num(row)), (answered, spread)))
    print(f"best: ANSWERED, SPREAD = {best[1]}, the worst figure {best[0]:.3f} (targets 0.9)")
    print("image: Z     RHO   precision, answered")
    for z in zs:
        for rho in rhos:
            found = toyquality.image_queries(toy, world.scratch, seeds["image"], cut(z=z, rho=rho))
            print(f"{'':7}{z:<5} {rho:<5} {found['image'][0]:9.3f} {found['image'][1]:9.3f}")


def thresholds() -> str:
    names = ("ANSWERED", "SPREAD", "Z", "RHO")
    return " ".join(f"{name}={getattr(relevance, name)}" for name in names)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="FIGURE", help="these figures only")
    parser.add_argument("--with", dest="extra", nargs="+", default=[], metavar="FIGURE")
    parser.add_argument("--list", action="store_true", help="list the figures")
    parser.add_argument("--calibrate", action="store_true", help="the thresholds' grids instead")
    parser.add_argument("--model", type=Path, help="a toy model folder other than toyworld's")
    parser.add_argument("--z", nargs="+", type=float, default=[1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0])
    parser.add_argument("--rho", nargs="+", type=float, default=[0.5, 0.6, 0.7, 0.8, 0.9])
    args = parser.parse_args(argv)
    if args.list:
        for name, f in FIGURES.items():
            print(f"{name:12} {'' if f.default else '(--with) '}{f.measure.__doc__}")
        return
    unknown = (set(args.only or []) | set(args.extra)) - set(FIGURES)
    if unknown:
        parser.error(f"no figure {', '.join(sorted(unknown))}; --list shows them")
    with tempfile.TemporaryDirectory(prefix="altclip-quality-") as scratch:
        world = World(Path(scratch), model_path=args.model)
        if args.calibrate:
            world.seeds = dict(CALIBRATION)
            print(f"calibration seeds {CALIBRATION}; now {thresholds()}")
            calibrate(world, args.z, args.rho)
            return
        names = args.only or [n for n, f in FIGURES.items() if f.default or n in args.extra]
        print(f"model {world.model}; {thresholds()}")
        for name in names:
            started = time.monotonic()
            for label, value in world.measure(name).items():
                print(f"{label:36} {value:.3f}")
            print(f"  ({name}: {time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
