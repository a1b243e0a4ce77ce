"""Walk photo folders: depth-first, iteratively (a folder 1 000 levels deep is a legal path);
symlink loops and unreadable folders reported, never fatal; hidden folders skipped unless asked;
`--exclude` globs matched against the path and the name."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from altclip_core.preprocess import image_extensions
from search.library_folder import MARKER
from search.terminal import escaped


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
    """The photo files under `roots`, sorted by path within each folder, a subfolder's photos
    where its name falls among them, but none of a library folder (one that holds
    MARKER: a library kept among the photos). Folders that cannot be listed and files
    that cannot be looked at are appended to `unreadable` (their photos are not gone, only out
    of reach now). `warn` gets one line per folder or file skipped, its name `escaped`."""
    unreadable = [] if unreadable is None else unreadable
    extensions = image_extensions()
    seen_dirs: set[tuple[int, int]] = set()

    def excluded(path: str, name: str) -> bool:
        return any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(name, g) for g in exclude)

    def listed(folder: str) -> Iterator[os.DirEntry] | None:
        """The folder's entries by name, or None where it is skipped (and said why)."""
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                warn(f"skipped {escaped(folder)}: a symlink loop or a folder already scanned")
                return None
            seen_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            warn(f"skipped {escaped(folder)}: {escaped(e.strerror or str(e))}")
            unreadable.append(folder)
            return None
        if any(e.name == MARKER for e in entries):
            warn(f"skipped {escaped(folder)}: a library's own thumbnails and previews, not photos")
            return None
        return iter(entries)

    for root in roots:
        # The folders being walked, innermost last, each with the entries it has left: a
        # subfolder is walked where it comes, before its folder's next entry.
        stack = [found] if (found := listed(os.path.abspath(root))) is not None else []
        while stack:
            e = next(stack[-1], None)
            if e is None:
                stack.pop()
                continue
            if (e.name.startswith(".") and not include_hidden) or excluded(e.path, e.name):
                continue
            try:
                if e.is_dir():
                    if (found := listed(e.path)) is not None:
                        stack.append(found)
                elif e.is_file() and os.path.splitext(e.name)[1].lower() in extensions:
                    st = e.stat()
                    yield Entry(e.path, st.st_size, st.st_mtime_ns)
            except OSError as err:
                warn(f"skipped {escaped(e.path)}: {escaped(err.strerror or str(err))}")
                unreadable.append(e.path)
