"""`altclip-search "query" [--library DIR] [-k 20] [--json]`: ranked paths with scores."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from altclip_core.errors import AltCLIPError

from .catalog import error_line
from .library import SURROGATE, Library, escaped
from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="altclip-search", description=__doc__)
    p.add_argument("query", nargs="?", help="what the photo shows, in any language")
    p.add_argument("--image", help="find photos similar to this image (with or without a query)")
    p.add_argument("--negative", help="push photos showing this away")
    p.add_argument("--folder", help="only photos under this folder")
    p.add_argument("--after", help="only photos taken on or after this date (2023-06-01)")
    p.add_argument("--before", help="only photos taken before this date")
    p.add_argument("-k", type=int, default=20, help="how many results (default 20)")
    env = Settings.from_env()
    p.add_argument(
        "--library", type=Path, default=env.library, help="default: $ALTCLIP_LIBRARY or ./data"
    )
    p.add_argument(
        "--catalog", default=env.catalog, help="SQLAlchemy URL (default: $ALTCLIP_CATALOG)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    args = p.parse_args(argv)
    sys.stdout.reconfigure(errors="backslashreplace")  # never die printing a strange name
    try:
        library = Library.open(args.library, args.catalog)
        hits = library.search(
            args.query,
            image=args.image,
            k=args.k,
            negative=args.negative,
            folder=args.folder,
            after=args.after,
            before=args.before,
        )
    except (AltCLIPError, OSError) as e:
        print(f"altclip-search: {escaped(str(e))}", file=sys.stderr)
        return 1
    except SQLAlchemyError as e:
        print(f"altclip-search: catalog error: {error_line(e)}", file=sys.stderr)
        return 1
    for hit in hits:
        if args.json:
            taken = hit.taken_at.isoformat() if hit.taken_at else None
            row = {
                "path": hit.path,
                "score": round(hit.score, 6),
                "width": hit.width,
                "height": hit.height,
                "taken_at": taken,
            }
            print(json_line(row))
        else:
            print(f"{hit.score:.4f}\t{escaped(hit.path)}")
    return 0


def json_line(row: dict) -> str:
    """One JSON object in valid UTF-8: a path's bytes that are not UTF-8 (held as lone
    surrogates) are written as JSON escapes ("\\udce9"), which json.loads and os.fsencode turn back
    into the same bytes."""
    line = json.dumps(row, ensure_ascii=False)
    return SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


if __name__ == "__main__":
    sys.exit(main())
