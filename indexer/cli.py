"""`altclip-index PHOTOS... [--library DIR]`: index photo folders into a library.

`altclip-index PHOTOS --watch` keeps indexing what changes until stopped (Ctrl-C, SIGTERM).
`altclip-index --report` lists the files that could not be indexed, with the reason.
`altclip-index PHOTOS --ray [ADDRESS]` embeds on a Ray cluster (the [ray] extra);
`--export DIR` writes Parquet shards instead of the catalog, `--import DIR` merges them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from altclip_core import memory
from altclip_core.errors import AltCLIPError
from altclip_core.preprocess import MAX_FILE_MB, MAX_MEGAPIXELS
from search import publishing
from search.catalog import Catalog
from search.library_folder import LibraryBusy, has_pictures, index_folder
from search.settings import Settings
from search.terminal import error_line, escaped, quiet_pipe

from .errors import IndexerError
from .progress import Progress
from .run import Indexer, holder
from .watch import POLL

STOPPED = "altclip-index: stopped; run the same command again to finish"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="altclip-index", description=__doc__)
    env = Settings.from_env()
    p.add_argument("photos", nargs="*", type=Path, help="photo folders, searched recursively")
    p.add_argument(
        "--library",
        type=Path,
        default=env.library,
        help="library folder (default: $ALTCLIP_LIBRARY or ./data)",
    )
    p.add_argument(
        "--catalog",
        default=env.catalog,
        help="SQLAlchemy URL of the catalog (default: LIBRARY/catalog.sqlite)",
    )
    p.add_argument(
        "--model",
        default=env.model,
        help="hub repo id or local checkpoint folder (default: $ALTCLIP_MODEL, else the model the "
        "library was built with, else BAAI/AltCLIP)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip paths or names matching GLOB (repeatable)",
    )
    p.add_argument(
        "--include-hidden", action="store_true", help="also scan hidden folders and files"
    )
    p.add_argument("--no-words", action="store_true", help="read no words in the photos (OCR)")
    p.add_argument(
        "--max-megapixels",
        type=positive(float),
        default=MAX_MEGAPIXELS,
        help=f"skip larger images, against decompression bombs (default: {MAX_MEGAPIXELS:g})",
    )
    p.add_argument(
        "--max-file-mb",
        type=positive(float),
        default=MAX_FILE_MB,
        help=f"skip larger files (default: {MAX_FILE_MB:g})",
    )
    p.add_argument(
        "--batch-size",
        type=positive(int),
        default=16,
        help="photos per decode window and per catalog transaction (default: 16)",
    )
    p.add_argument("--device", help="cuda, mps or cpu (default: the fastest available)")
    p.add_argument(
        "--exact-decode",
        action="store_true",
        help="decode JPEGs at full size (slower; the default draft decoding is within "
        "measured tolerance, see bench/indexing.py)",
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help="run the image tower in int8 on CPU (faster; checked against the exact model on "
        "each run's first photos, which are indexed exactly if it strays)",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="forget every vector and re-embed all photos (e.g. with another --model)",
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="after indexing, keep indexing what changes in PHOTOS (file system events; on a "
        "network share or past the kernel's inotify limit, polling) until stopped",
    )
    p.add_argument(
        "--poll",
        type=positive(float),
        default=POLL,
        metavar="SECONDS",
        help=f"--watch, where events cannot be had: rescan this often (default: {POLL:g})",
    )
    p.add_argument(
        "--max-watches",
        type=positive(int),
        metavar="N",
        help="--watch: poll instead of watching when PHOTOS hold more than N folders (default: "
        "as many as the kernel allows, /proc/sys/fs/inotify/max_user_watches)",
    )
    p.add_argument("--report", action="store_true", help="list the files that failed, with why")
    p.add_argument(
        "--check",
        action="store_true",
        help="say whether the library is sound, and which rows the next run would make again",
    )
    p.add_argument(
        "--forget",
        type=Path,
        metavar="FOLDER",
        help="remove the library's photos under FOLDER (gone, or not wanted); no file is touched",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="decode and embed on a Ray cluster (ADDRESS: host:port, ray://host:port or auto; "
        "default: $RAY_ADDRESS, else a local one); photos and library on a shared file system",
    )
    p.add_argument(
        "--export",
        type=Path,
        metavar="DIR",
        help="write the embeddings as Parquet shards into DIR instead of the library",
    )
    p.add_argument(
        "--import",
        dest="import_",
        type=Path,
        metavar="DIR",
        help="merge the Parquet shards in DIR (written by --export) into the library",
    )
    return p


@quiet_pipe
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.ray and Path(args.ray).is_dir():
        args.photos.append(Path(args.ray))  # `--ray PHOTOS`: a folder, not an address
        args.ray = ""
    sys.stdout.reconfigure(errors="backslashreplace")  # never die printing a strange name
    # While it runs, this command checks every image's size itself, with --max-megapixels
    # (Pillow's own limit is fixed at 179 megapixels and warns about every photo over 89).
    pixels, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    previous = signal.getsignal(signal.SIGINT)
    try:
        if args.report:
            return report(args)
        if args.check:
            return check(args)
        if args.import_:
            return import_(args)
        if args.forget:
            if args.photos or args.rebuild or args.export:
                alone = "altclip-index: --forget takes no photo folders; run it alone"
                print(alone, file=sys.stderr)
                return 2
            forgotten = Indexer(args.library, catalog_url=args.catalog).forget(args.forget)
            print(f"{forgotten} photos under {escaped(str(args.forget))} forgotten")
            return 0
        if not args.photos:
            name = "altclip-index: name at least one photo folder, e.g. altclip-index ~/Pictures"
            print(name, file=sys.stderr)
            return 2
        memory.hold_freed_memory()  # this process embeds images in a loop (memory.py says why)
        kind = Indexer
        if args.ray is not None:
            kind = _needs("ray", "ray").RayIndexer
        elif args.device not in (None, "cpu"):  # a CPU needs no check: torch waits for a photo
            from altclip_core.model import usable_device

            usable_device(args.device)  # here, before anything: a run may have nothing to embed
        indexer = kind(
            library=args.library,
            model=args.model,
            catalog_url=args.catalog,
            exclude=args.exclude,
            include_hidden=args.include_hidden,
            max_megapixels=args.max_megapixels,
            max_file_mb=args.max_file_mb,
            batch_size=args.batch_size,
            device=args.device,
            exact_decode=args.exact_decode,
            int8=args.int8,
            words=not args.no_words,
            warn=lambda msg: print(f"warning: {msg}", file=sys.stderr),
        )
        if args.ray:
            indexer.address = args.ray
        if args.watch:
            return watch(indexer, args, hard=argv is None)
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: _interrupt(stop, argv is None))
        with Progress() as progress:
            if args.export:
                _needs("pyarrow", "parquet")
                summary = indexer.export(args.photos, args.export, stop=stop, progress=progress)
            else:
                summary = indexer.run(args.photos, args.rebuild, stop=stop, progress=progress)
        print(summary)
        if summary.failed and not args.export:
            print(f"see why with: altclip-index --report --library {escaped(str(args.library))}")
        return 130 if summary.interrupted else 0  # 130: stopped by Ctrl-C, as shells say
    except KeyboardInterrupt:  # a second Ctrl-C, called from Python (_interrupt)
        print(STOPPED, file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # the reader stopped early: quiet_pipe ends quietly
    except (AltCLIPError, OSError) as e:
        held = f" ({holder(args.library)})" if isinstance(e, LibraryBusy) else ""
        print(f"altclip-index: {error_line(e)}{held}", file=sys.stderr)
        return 1
    finally:  # called from Python, it leaves the process as it found it
        Image.MAX_IMAGE_PIXELS = pixels
        signal.signal(signal.SIGINT, previous)


def watch(indexer: Indexer, args, hard: bool) -> int:
    """`--watch`: the first pass, then the changes, until Ctrl-C or SIGTERM (exit 0: the way a
    watcher ends). A second Ctrl-C stops at once; the next start finishes the job."""
    if args.ray is not None or args.export:
        print("altclip-index: --watch indexes locally: not with --ray or --export", file=sys.stderr)
        return 2
    from .watch import Watcher

    sys.stdout.reconfigure(line_buffering=True)  # a line a change, also into a journal
    watcher = Watcher(indexer, args.photos, poll=args.poll, max_watches=args.max_watches)
    terminate = signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    signal.signal(signal.SIGINT, lambda *_: _interrupt(watcher.stopped, hard, watcher.stop))
    try:
        with Progress() as progress:
            watcher.run(args.rebuild, progress)
    finally:
        signal.signal(signal.SIGTERM, terminate)
    return 0


def positive(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` above 0, or an error that says so."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
        return value

    return parse


def _interrupt(stop: threading.Event, hard: bool, stopping: Callable[[], None] | None = None):
    """Ctrl-C: stop after this batch; a second one stops now (the batch in flight is lost,
    nothing else). As a command (`hard`), the process ends as a kill would: a KeyboardInterrupt
    lands in whatever runs, and a library's finalizer catches and prints it (SQLAlchemy's pool).
    Called from Python, it is raised, and the caller's process goes on."""
    if stop.is_set():
        if not hard:
            raise KeyboardInterrupt
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: still out at once
            print(f"\n{STOPPED}", file=sys.stderr)
            sys.stdout.flush()
        os._exit(130)  # 130: stopped by Ctrl-C, as shells say
    (stopping or stop.set)()
    print("\nstopping after this batch (Ctrl-C again to stop now)", file=sys.stderr)


class MissingExtra(IndexerError):
    """An optional dependency is not installed; the message names the extra."""


def _needs(module: str, extra: str):
    """`module` imported (`ray`: indexer.distributed), or MissingExtra naming what to install."""
    try:
        if module == "ray":
            from . import distributed

            return distributed
        return __import__(module)
    except ModuleNotFoundError as e:
        if e.name not in ("ray", "pyarrow") and not (e.name or "").startswith(("ray.", "pyarrow.")):
            raise
        raise MissingExtra(
            f"this needs {e.name.split('.')[0]}: pip install 'altclip-search[{extra}]'"
        ) from None


def import_(args) -> int:
    _needs("pyarrow", "parquet")
    from .exchange import import_shards

    summary = import_shards(args.library, args.import_, args.catalog, args.model)
    print(summary)
    return 0


def report(args) -> int:
    catalog = Catalog.open(args.library, args.catalog, create=False)
    failed, cut = catalog.failures(), catalog.cuts()
    for path, why in failed + [(p, f"words cut: {why}") for p, why in cut]:
        print(f"{escaped(path)}\t{escaped(why)}")
    print(f"{len(failed)} file(s) could not be indexed, {len(cut)} read in part", file=sys.stderr)
    return 0


def check(args) -> int:
    """The library's soundness: the database file, every row's vector and hash, the vector
    index. Damaged rows on stdout (path, what is wrong), the verdict on stderr; exit 1 where
    anything is wrong."""
    catalog = Catalog.open(args.library, args.catalog, create=False)
    problems = [f"the catalog file: {escaped(line)}" for line in catalog.integrity()]
    damaged = catalog.damaged(functools.partial(has_pictures, args.library))
    for path, why in damaged:
        print(f"{escaped(path)}\t{why}")
    if damaged:
        problems.append(f"{len(damaged)} damaged row(s): the next run makes them from their photos")
    if publishing.unusable(index_folder(args.library), catalog):
        problems.append(
            "the vector index does not belong to this catalog (a catalog restored from a backup, "
            "or a damaged index): searches read the catalog until the next run rebuilds it"
        )
    for line in problems:
        print(f"altclip-index --check: {line}", file=sys.stderr)
    if not problems:
        print("altclip-index --check: the library is sound", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
