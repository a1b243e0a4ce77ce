"""`altclip-demo [FOLDER] [--port 8501] [--build-only]`: a demo library of drawn shapes, indexed
with the tiny model shipped for it, and the page opened on it; no model to download.

FOLDER (default: the demo folder in altclip's cache, ~/.cache/altclip/demo) gets `photos/`,
the drawn pictures by year, and `library/`, their library. A second run redraws nothing that is
there already and indexes nothing that has not changed: the page is up in seconds.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from altclip_core import cache
from indexer import Indexer
from search import AltCLIPError
from search.terminal import error_line
from ui import launch
from ui.demo import MODEL
from ui.demo.scenes import Scene, caption, photo_bytes, random_date, random_scene

PHOTOS = 120  # distinct scenes, one photo each
COPIES = 4  # of them kept a second time, re-encoded, in backup/: tiles marked "+1"
EDGE = 384  # pixels: the model sees any size at 48 x 48; the page shows these
SEED = 2024
FIRST_DAY, DAYS = datetime(2019, 1, 1), 7 * 365  # capture dates: 2019 to 2025


def scenes() -> list[Scene]:
    """The demo's scenes, no two alike, the same on every machine and run."""
    rng = np.random.default_rng(SEED)
    found: dict[Scene, None] = {}
    while len(found) < PHOTOS:
        found.setdefault(random_scene(rng))
    return list(found)


def draw(folder: Path) -> list[Path]:
    """The demo's photos under `folder` (by year of capture, and the copies in backup/), written
    where a file is missing or differs; their paths, the scenes' in the order of `scenes()`."""
    paths, copies = [], []
    for i, scene in enumerate(scenes()):
        taken = random_date(np.random.default_rng([SEED, i, 0]), FIRST_DAY, DAYS)
        name = f"IMG_{i + 1:04d}.jpg"
        paths.append(folder / str(taken.year) / name)
        write(paths[-1], photo_bytes(scene, np.random.default_rng([SEED, i]), taken, EDGE))
        if i < COPIES:  # the same drawing (the same random draws), saved again lower
            picture = photo_bytes(scene, np.random.default_rng([SEED, i]), taken, EDGE, 70)
            copies.append(folder / "backup" / name)
            write(copies[-1], picture)
    return paths


def write(path: Path, data: bytes) -> None:
    """`data` at `path`, unless it is there already (so that the indexer finds it unchanged)."""
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build(folder: Path) -> Path:
    """The demo's photos drawn into `folder`/photos and indexed into `folder`/library with the
    demo's model (only what changed); the library's folder."""
    photos, library = folder / "photos", folder / "library"
    draw(photos)
    summary = Indexer(library=library, model=str(MODEL), catalog_url=None).run([photos])
    print(f"altclip-demo: {summary}")
    return library


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="altclip-demo", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=cache.folder() / "demo",
        help="where the demo's photos and library go (default: %(default)s)",
    )
    p.add_argument("--port", type=int, default=8501, help="the page's port (default: 8501)")
    p.add_argument(
        "--build-only", action="store_true", help="make the demo library, but open no page"
    )
    args = p.parse_args(argv)
    try:
        library = build(args.folder.expanduser())
    except (AltCLIPError, OSError) as e:
        print(f"altclip-demo: {error_line(e)}", file=sys.stderr)
        return 1
    print(f"altclip-demo: try 「{caption(scenes()[0], 'zh')}」 or “{caption(scenes()[1], 'en')}”")
    if args.build_only:
        print(f"altclip-demo: to open it: altclip-ui --library {shlex.quote(str(library))}")
        return 0
    os.environ.pop("ALTCLIP_CATALOG", None)  # the demo's own catalog, whatever is set
    return launch.main(["--library", str(library), "--port", str(args.port)])


if __name__ == "__main__":
    sys.exit(main())
