"""Walk photo folders: depth-first, iteratively (a folder 1 000 levels deep is a legal path);
symlink loops and unreadable folders reported, never fatal; hidden folders skipped unless asked;
`--exclude` globs matched against the path and the name. The walk goes in byte order of the
full paths, the order the catalog streams its rows in (search/catalog_writes.py), so that a plan
diffs the two side by side, a folder at a time, instead of holding every row.

A polling rescan (`changed_folders`) lists only the folders whose modification time is not the
one recorded when they were last listed: a folder's time changes when an entry is added,
removed or renamed in it, not when a file in it is rewritten (the watcher's full pass, every
few rescans, stats every file for those). On a network share (`network_share`), changes made on
another machine send no file system events: the watcher polls there.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from altclip_core.preprocess import image_extensions
from search.filters import under
from search.library_folder import MARKER
from search.terminal import escaped

NETWORK = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre"}
NETWORK_FUSE = ("sshfs", "rclone", "s3fs", "davfs", "gcsfuse", "smb")
RACY_NS = 2 * 10**9  # a folder changed this recently may change again within its time's tick


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    mtime_ns: int


@dataclass
class Rules:
    """Which entries a walk leaves out."""

    exclude: list[str]
    include_hidden: bool = False

    def skipped(self, path: str, name: str) -> bool:
        hidden = name.startswith(".") and not self.include_hidden
        return hidden or any(
            fnmatch.fnmatch(path, g) or fnmatch.fnmatch(name, g) for g in self.exclude
        )

    def left_out(self, path: str, root: str, folder: bool = False) -> bool:
        """Whether a walk of `root` leaves out the file (or `folder`) at `path` below it: not a
        photo's extension, a hidden or excluded name on its way, a library (MARKER) above it."""
        if not folder and os.path.splitext(path)[1].lower() not in image_extensions():
            return True
        folder = os.path.dirname(path)
        while len(folder) > len(root):
            if os.path.lexists(os.path.join(folder, MARKER)):
                return True
            folder = os.path.dirname(folder)
        rest, at = os.path.relpath(path, root).split(os.sep), root
        for name in rest:
            at = os.path.join(at, name)
            if self.skipped(at, name):
                return True
        return False


def scan(
    roots: list[str],
    exclude: list[str] = (),
    include_hidden: bool = False,
    warn: Callable[[str], None] = print,
    unreadable: list[str] | None = None,
    listed: Callable[[str, int], None] = lambda folder, mtime_ns: None,
    descend: Callable[[str], bool] = lambda folder: True,
) -> Iterator[Entry]:
    """The photo files under `roots`, in byte order of their paths (a subfolder's photos where
    its name falls among the folder's entries), but none of a library folder (one that holds
    MARKER: a library kept among the photos). Folders that cannot be listed and files
    that cannot be looked at are appended to `unreadable` (their photos are not gone, only out
    of reach now), before any later entry is yielded. `warn` gets one line per folder or file
    skipped, its name `escaped`; `listed(folder, mtime_ns)` is told of each folder listed, its
    time taken before listing (RACY_NS: -1 for a folder that changed just now); `descend(folder)`
    says whether to walk into a subfolder (a polling rescan lists changed folders alone)."""
    unreadable = [] if unreadable is None else unreadable
    extensions = image_extensions()
    rules = Rules(list(exclude), include_hidden)
    seen_dirs: set[tuple[int, int]] = set()

    def listing(folder: str) -> Iterator[os.DirEntry] | None:
        """The folder's entries in byte order, or None where it is skipped (and said why)."""
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                warn(f"skipped {escaped(folder)}: a symlink loop or a folder already scanned")
                return None
            seen_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=_in_byte_order)
        except OSError as e:
            warn(f"skipped {escaped(folder)}: {escaped(e.strerror or str(e))}")
            unreadable.append(folder)
            return None
        if any(e.name == MARKER for e in entries):
            warn(f"skipped {escaped(folder)}: a library's own thumbnails and previews, not photos")
            return None
        racy = _now_ns() - st.st_mtime_ns < RACY_NS
        listed(folder, -1 if racy else st.st_mtime_ns)
        return iter(entries)

    for root in roots:
        # The folders being walked, innermost last, each with the entries it has left: a
        # subfolder is walked where it comes, before its folder's next entry.
        stack = [found] if (found := listing(os.path.abspath(root))) is not None else []
        while stack:
            e = next(stack[-1], None)
            if e is None:
                stack.pop()
                continue
            if rules.skipped(e.path, e.name):
                continue
            try:
                if e.is_dir():
                    if descend(e.path) and (found := listing(e.path)) is not None:
                        stack.append(found)
                elif e.is_file() and os.path.splitext(e.name)[1].lower() in extensions:
                    st = e.stat()
                    yield Entry(e.path, st.st_size, st.st_mtime_ns)
            except OSError as err:
                warn(f"skipped {escaped(e.path)}: {escaped(err.strerror or str(err))}")
                unreadable.append(e.path)


def changed_folders(
    recorded: Iterator[tuple[str, int]],
) -> Iterator[tuple[str, str]]:
    """Of the recorded (folder, mtime_ns), those a polling rescan must look at: ("folder",
    path) where its time changed (list it), ("tree", path) where it is gone or cannot be
    looked at (its photos are gone, or kept as out of reach, by the plan)."""
    for folder, mtime_ns in recorded:
        try:
            st = os.stat(folder)
        except OSError:
            yield "tree", folder
            continue
        if st.st_mtime_ns != mtime_ns:
            yield "folder", folder


def _in_byte_order(e: os.DirEntry) -> bytes:
    """A folder's entries sorted so that the full paths of the walk come in byte order: a
    subfolder sorts as its name and "/", the first byte of every path inside it."""
    try:
        folder = e.is_dir()
    except OSError:
        folder = False
    return os.fsencode(e.name) + (b"/" if folder else b"")


def _now_ns() -> int:
    return time.time_ns()


def network_share(path: str) -> str | None:
    """The file system type of `path` where it is a network share, else None (Linux's
    /proc/self/mountinfo; elsewhere, none is known)."""
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])  # \040: " "
        fstype = fields[fields.index("-") + 1]
        if under(path, [point]) and len(point) >= len(best):
            best, kind = point, fstype
    if kind in NETWORK or (kind or "").startswith("fuse.") and any(n in kind for n in NETWORK_FUSE):
        return kind
    return None
