"""What the file system says changed, for the watcher (watch.py): watchdog's events as places to
plan (a tree, a folder, a file), and the kernel's inotify limits named in one line."""

from __future__ import annotations

import errno
import logging
import os
import threading
from pathlib import Path

from altclip_core.preprocess import image_extensions
from search.catalog import under
from search.library_folder import MARKER

MAX_PENDING = 50_000  # changed paths held; past it, folded into their folders
WATCHES = "/proc/sys/fs/inotify/max_user_watches"
INSTANCES = "/proc/sys/fs/inotify/max_user_instances"


class Changes(logging.Handler):
    """The events, as places to plan (a watchdog event handler, called on its thread), and
    watchdog's word that it ran out of inotify watches for a new folder (a log record, the only
    way it says so once it watches)."""

    def __init__(self, library: Path, roots: list[str], wake: threading.Event):
        super().__init__(logging.WARNING)
        self.library, self.roots, self.wake = str(library), roots, wake
        self.extensions = image_extensions()
        self.places: dict[tuple[str, str], None] = {}
        self.libraries: dict[str, bool] = {}  # folder: holds MARKER (another library)
        self.guard = threading.Lock()
        self.out_of_watches = 0  # the errno, once watchdog says it could not watch a folder

    def dispatch(self, event) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write") or (event.is_directory and kind == "modified"):
            return  # a read, or a folder's time: its entries' own events say what changed
        if kind == "events_lost":  # the kernel's queue overflowed: the roots walked again
            found = [("tree", r) for r in self.roots if under(os.fsdecode(event.src_path), [r])]
            self._add(found or [("tree", r) for r in self.roots])
            return
        paths = [os.fsdecode(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        self._add(
            [
                ("tree" if event.is_directory else "file", p)
                for p in paths
                if not self._ours(p)
                and (event.is_directory or os.path.splitext(p)[1].lower() in self.extensions)
            ]
        )

    def _ours(self, path: str) -> bool:
        """Under this library or another one kept among the photos."""
        if under(path, [self.library]):
            return True
        folder = os.path.dirname(path)
        while under(folder, self.roots) and folder not in self.roots:
            if folder not in self.libraries:
                if len(self.libraries) > 10_000:
                    self.libraries.clear()
                self.libraries[folder] = os.path.lexists(os.path.join(folder, MARKER))
            if self.libraries[folder]:
                return True
            folder = os.path.dirname(folder)
        return False

    def _add(self, places: list) -> None:
        if not places:
            return
        with self.guard:
            self.places.update(dict.fromkeys(places))
            if len(self.places) > MAX_PENDING:
                self.places = dict.fromkeys(folded(list(self.places), self.roots))
        self.wake.set()

    def take(self) -> list:
        with self.guard:
            places, self.places = list(self.places), {}
        return places

    def emit(self, record: logging.LogRecord) -> None:
        for arg in record.args if isinstance(record.args, tuple) else ():
            if isinstance(arg, OSError) and arg.errno in (errno.ENOSPC, errno.EMFILE):
                self.out_of_watches = arg.errno
                self.wake.set()


def folded(places: list, roots: list[str]) -> list:
    """`places` once each, at most MAX_PENDING: past it, files folded into their folders, and
    past that, the roots walked whole."""
    places = list(dict.fromkeys(places))
    if len(places) > MAX_PENDING:
        up = (("folder", os.path.dirname(p)) if k == "file" else (k, p) for k, p in places)
        places = list(dict.fromkeys(up))
    return places if len(places) <= MAX_PENDING else [("tree", r) for r in roots]


def limit(code: int) -> str:
    """The kernel's inotify limit that was reached, in one line that names it."""
    setting = WATCHES if code == errno.ENOSPC else INSTANCES
    try:
        value = Path(setting).read_text().strip()
    except OSError:
        value = "?"
    more = max(int(value) * 4, 524288) if value.isdigit() else 524288
    return (
        f"the kernel's inotify limit is reached ({setting} is {value}, shared by this user's "
        f"programs; raise it, e.g. sudo sysctl fs.inotify.{os.path.basename(setting)}={more})"
    )


def watched_events() -> list:
    """The events that say a photo changed: not a read (the indexer's own, or anyone's)."""
    from watchdog import events

    names = ["FileCreatedEvent", "FileModifiedEvent", "FileAttribEvent", "FileClosedEvent"]
    names += ["FileDeletedEvent", "FileMovedEvent", "DirCreatedEvent", "DirDeletedEvent"]
    names += ["DirMovedEvent", "DirAttribEvent", "EventsLostEvent"]  # a folder made unreadable
    return [getattr(events, n) for n in names if hasattr(events, n)]
