"""Walk photo folders: recursive; symlink loops and unreadable folders reported, never fatal;
hidden folders skipped unless asked; `--exclude` globs matched against the path and the name."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from altclip_core.preprocess import image_extensions

LIBRARY_MARKER = "indexer.lock"  # in every library (and export) folder: its pictures are no photos


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    mtime_ns: int


def scan(
    roots: list[Path],
    exclude: list[str] = (),
    include_hidden: bool = False,
    warn: Callable[[str], None] = print,
    unreadable: list[str] | None = None,
) -> Iterator[Entry]:
    """The photo files under `roots`, sorted by path within each folder, but none of a library
    folder (one that holds LIBRARY_MARKER: a library kept among the photos). Folders that cannot
    be listed and files that cannot be looked at are appended to `unreadable` (their photos are
    not gone, only out of reach now)."""
    unreadable = [] if unreadable is None else unreadable
    extensions = image_extensions()
    seen_dirs: set[tuple[int, int]] = set()

    def excluded(path: str, name: str) -> bool:
        return any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(name, g) for g in exclude)

    def walk(folder: str) -> Iterator[Entry]:
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                warn(f"skipped {folder}: a symlink loop or a folder already scanned")
                return
            seen_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            warn(f"skipped {folder}: {e.strerror or e}")
            unreadable.append(folder)
            return
        if any(e.name == LIBRARY_MARKER for e in entries):
            warn(f"skipped {folder}: a library's own thumbnails and previews, not photos")
            return
        for e in entries:
            if (e.name.startswith(".") and not include_hidden) or excluded(e.path, e.name):
                continue
            try:
                if e.is_dir():
                    yield from walk(e.path)
                elif e.is_file() and os.path.splitext(e.name)[1].lower() in extensions:
                    st = e.stat()
                    yield Entry(e.path, st.st_size, st.st_mtime_ns)
            except OSError as err:
                warn(f"skipped {e.path}: {err.strerror or err}")
                unreadable.append(e.path)

    for root in roots:
        yield from walk(os.path.abspath(root))
