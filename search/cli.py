"""`altclip-search "query" [--library DIR] [-k 20] [--json]`: ranked paths with scores.
`altclip-search --duplicates`: the library's groups of near-duplicates (bursts, copies).
`altclip-classify IMAGE... --labels 猫 狗 海滩`: label probabilities per image."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path

from altclip_core.errors import AltCLIPError

from .library import Library
from .query import Query
from .settings import Settings
from .terminal import error_line, escaped, json_line, quiet_pipe


@quiet_pipe
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="altclip-search", description=__doc__)
    p.add_argument("query", nargs="?", help="what the photo shows, in any language")
    p.add_argument(
        "--image",
        help="find photos similar to this image (with or without a query); the image itself is "
        "left out where the library holds it",
    )
    p.add_argument(
        "--negative", help="push photos showing this away (with a query: they match no more)"
    )
    p.add_argument("--folder", help="only photos under this folder")
    p.add_argument("--after", help="only photos taken on or after this date (2023-06-01)")
    p.add_argument("--before", help="only photos taken before this date")
    p.add_argument(
        "--with-text",
        action="store_true",
        help="only photos with words read in them (signs, receipts, screenshots), not by their "
        "file name alone",
    )
    p.add_argument(
        "--no-dates",
        action="store_true",
        help="read date words in the query (2023年夏天, last summer) as words, not as a filter",
    )
    p.add_argument("-k", type=int, default=20, help="how many results (default 20)")
    p.add_argument(
        "--matches",
        action="store_true",
        help="only the photos that match the query, decided per query (none where none do)",
    )
    p.add_argument(
        "--duplicates",
        action="store_true",
        help="instead of a search, every group of near-duplicates the indexer found: its "
        "number, each photo's cosine to the group's best (listed first), its path",
    )
    env = Settings.from_env()
    p.add_argument(
        "--library", type=Path, default=env.library, help="default: $ALTCLIP_LIBRARY or ./data"
    )
    p.add_argument(
        "--catalog", default=env.catalog, help="SQLAlchemy URL (default: $ALTCLIP_CATALOG)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--exact",
        action="store_true",
        default=env.exact,
        help="the exact text tower, not the int8 one that is the default on CPU where it agrees "
        "with the exact one ($ALTCLIP_EXACT=1)",
    )
    p.add_argument("--int8", action="store_true", help=argparse.SUPPRESS)  # the default now
    args = p.parse_args(argv)
    searched = [args.query, args.image, args.negative, args.folder, args.after, args.before]
    if args.duplicates and (any(a is not None for a in searched) or args.matches or args.with_text):
        p.error(
            "--duplicates lists the whole library's groups: "
            "give it without a query, --image, --matches or a filter"
        )
    sys.stdout.reconfigure(errors="backslashreplace")  # never die printing a strange name
    try:
        library = Library.open(
            args.library, args.catalog, int8=not args.exact, hemisphere=env.hemisphere
        )
        if args.duplicates:
            return _duplicates(library, args.json)
        hits = library.search(
            args.query,
            image=args.image,
            k=args.k,
            negative=args.negative,
            folder=args.folder,
            after=args.after,
            before=args.before,
            matches_only=args.matches,
            dates=not args.no_dates,
            with_text=args.with_text,
        )
        said = None  # the dates the query names, unless --after or --before say others
        explicit = args.after is not None or args.before is not None
        if args.query is not None and not args.no_dates and not explicit:
            said = library.dates_said(args.query)
        photos = library.status().photos
    except BrokenPipeError:
        raise  # --duplicates read by `| head`: quiet_pipe ends quietly
    except (AltCLIPError, OSError) as e:
        print(f"altclip-search: {error_line(e)}", file=sys.stderr)
        return 1
    if said is not None:
        print(f"altclip-search: {escaped(_understood(said))}", file=sys.stderr)
    if not photos:
        print(
            "altclip-search: the library holds no photos yet: run  altclip-index PHOTOS",
            file=sys.stderr,
        )
    elif not hits:
        filtered = said is not None or args.folder or args.after or args.before or args.with_text
        where = (
            "nothing here shows it" if args.matches and not filtered else "a filter may leave none"
        )
        if args.with_text:  # none where the library was indexed with --no-words
            where += ": --with-text leaves only the photos whose words were read"
        words = args.query is not None and (said is None or said.text)  # not a date alone
        if args.negative is not None and args.matches and words:
            where += ", or the negative rules them out"
        print(f"altclip-search: no photo matches ({where})", file=sys.stderr)
    for hit in hits:
        if args.json:
            taken = hit.taken_at.isoformat() if hit.taken_at else None
            row = {
                "path": hit.path,
                "score": round(hit.score, 6),
                "width": hit.width,
                "height": hit.height,
                "taken_at": taken,
                "match": hit.match,
                "words": None if hit.words is None else asdict(hit.words),
            }
            print(json_line(row))
        else:  # the words that found it, if any, after the path
            said = "" if hit.words is None else f"\t{escaped(hit.words.text)}"
            print(f"{hit.score:.4f}\t{escaped(hit.path)}{said}")
    if library.unwritable_cache is not None:
        print(
            "altclip-search: the search-ready text tower could not be kept in "
            f"{escaped(str(library.unwritable_cache))}, so every search prepares it again "
            "(seconds, GBs of memory): make that folder writable, or set ALTCLIP_CACHE to one "
            "that is",
            file=sys.stderr,
        )
    return 0


def _understood(said: Query) -> str:
    """The capture dates a query named, as a line: "“last winter”: photos taken 2025-12-01 to
    2026-02-28 (--no-dates reads them as words)"."""
    spans = []
    for phrase, first, last in said.days():
        if last is None:
            span = f"from {first}"
        elif first is None:
            span = f"until {last}"
        else:
            span = f"{first} to {last}"
        spans.append(f"“{phrase}”: photos taken {span}")
    return "; ".join(spans) + " (--no-dates reads them as words)"


def _duplicates(library: Library, as_json: bool) -> int:
    """Print `library.duplicates()`, a line per photo (one JSON object with --json)."""
    groups = library.duplicates()
    if not groups:
        print("altclip-search: no near-duplicates in this library", file=sys.stderr)
    for n, best in enumerate(groups, 1):
        for hit in (best, *best.duplicates):
            if as_json:
                print(json_line({"group": n, "score": round(hit.score, 6), "path": hit.path}))
            else:
                print(f"{n}\t{hit.score:.4f}\t{escaped(hit.path)}")
    return 0


@quiet_pipe
def classify(argv: list[str] | None = None) -> int:
    """`altclip-classify IMAGE... --labels 猫 狗 海滩 [--template "a photo of {}"] [--library DIR]`:
    per image, one line: its path, then each label with its probability, best first. A photo of
    the library is classified by its stored vector; any other image is embedded."""
    p = argparse.ArgumentParser(prog="altclip-classify", description=classify.__doc__)
    p.add_argument("images", nargs="+", help="image files (photos of the library or any other)")
    p.add_argument("--labels", nargs="+", required=True, help="e.g. 猫 狗 海滩 'a beach'")
    p.add_argument("--template", action="append", help='e.g. "a photo of {}" (repeatable)')
    env = Settings.from_env()
    p.add_argument(
        "--library", type=Path, default=env.library, help="default: $ALTCLIP_LIBRARY or ./data"
    )
    p.add_argument("--catalog", default=env.catalog, help="SQLAlchemy URL ($ALTCLIP_CATALOG)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    args = p.parse_args(argv)
    sys.stdout.reconfigure(errors="backslashreplace")
    try:
        library = Library.open(args.library, args.catalog)
    except AltCLIPError as e:
        print(f"altclip-classify: {error_line(e)}", file=sys.stderr)
        return 1
    failed = 0
    for image in args.images:
        path = os.path.abspath(image)
        try:
            found = library.classify(path, args.labels, args.template)
        except (AltCLIPError, OSError) as e:
            print(f"altclip-classify: {error_line(e)}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            row = {"image": path, "labels": [{"label": k, "p": round(v, 6)} for k, v in found]}
            print(json_line(row))
        else:
            shown = [f"{escaped(label)} {p:.3f}" for label, p in found]
            print("\t".join([escaped(path), *shown]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
