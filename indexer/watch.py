"""The watcher: `altclip-index PHOTOS... --watch` keeps the library current. After a first pass
(a run, the usual one) it waits for file system events (watchdog: inotify on Linux) and plans
only the paths they name (plan.py's places), through the same stages and under the same writer
lock, held for as long as it watches, with the model loaded once.

- A file is read only once it has stopped changing (`settled`): its modification time SETTLE
  seconds old, or, where that time cannot be trusted (a clock elsewhere), the same size and time
  seen SETTLE seconds apart. A file read too soon (a copy that stalled) fails, and is read again
  once it changes, as any failed file is.
- Where events cannot be had (a network share, whose changes made elsewhere send none; the
  kernel's inotify limits, /proc/sys/fs/inotify/max_user_watches; more folders than
  --max-watches), it says so once, in one line, and polls every POLL seconds instead: only the
  folders whose time changed are listed (scan.changed_folders), and every FULL_EVERY polls a
  full pass stats every file (a file rewritten in place changes its time, not its folder's);
  failed files, on every poll.
- Its own library's files (thumbnails, the catalog) never wake it, nor does a file that is not a
  photo; another library among the photos is left out by the plan (scan.Rules).
- Killed at any moment, its next start's first pass finishes the job (rows keyed by path; a
  folder's time is recorded only once its files are stored). Stopped (Ctrl-C, SIGTERM), it
  ends after the batch in flight, at once when idle. Past MAX_PENDING changed paths, it folds
  them into their folders, after each round it hands the freed heap back, and after RELEASE
  seconds without one it lets the image tower go (loaded again for the next photo): its memory
  stays flat, and small while nothing changes.
- A full disk (or quota) under the library or its catalog stops a round, not the watcher: said
  once, the round's places and every change that comes meanwhile are kept and tried again once
  the library's disk has more room (looked at every POLL seconds), or every FULL_EVERY polls
  (a quota, a catalog elsewhere); nothing is marked failed for want of space.

It tells the page what it does in LIBRARY/watch.json (`Status`, `read_status`), written whole
(a temporary file renamed) when its state changes, removed when it stops.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from altclip_core import memory
from altclip_core.errors import AltCLIPError
from search.catalog import under
from search.database import CatalogError, shown
from search.library_folder import temporary

from .changes import WATCHES, Changes, folded, limit, watched_events
from .errors import out_of_space
from .run import Indexer, Job
from .scan import Entry, changed_folders, network_share
from .summary import Summary

STATUS = "watch.json"  # LIBRARY/watch.json: the watcher's Status, for the page
SETTLE = 2.0  # seconds a file must go unchanged before it is read
POLL = 60.0  # seconds between polling rescans, where events cannot be had
FULL_EVERY = 10  # every this many polls, a full pass (files rewritten in place)
QUIET = 0.5  # seconds without events before the changes gathered are planned
RELEASE = 600.0  # seconds without a round after which the image tower is let go


@dataclass
class Status:
    """What the watcher of a library is doing: "indexing" `done` of `total` files, "current"
    (up to date), or "full" (waiting for space to write); `mode`: "events" or "polling"."""

    pid: int
    state: str
    mode: str
    done: int = 0
    total: int = 0
    since: float = 0.0  # when this state began (seconds since 1970)


def read_status(library: Path) -> Status | None:
    """The status of the watcher of `library`, or None where none watches it (no status, or
    its process is gone: a watcher killed with -9 leaves its file behind)."""
    try:
        status = Status(**json.loads((Path(library) / STATUS).read_text()))
        os.kill(status.pid, 0)
    except (OSError, ValueError, TypeError):
        return None
    return status


class Watcher:
    """Keep `roots` indexed into `indexer`'s library until `stop()`.

    Args:
        settle: seconds a file must go unchanged before it is read.
        poll: seconds between rescans where events cannot be had; every `full_every`th
            rescan stats every file.
        max_watches: watch with events only while the photo folders number at most this
            (default: as many as the kernel allows).
        observer: makes the watchdog observer (default: watchdog's own for this system).
    """

    def __init__(
        self,
        indexer: Indexer,
        roots: list[Path],
        settle: float = SETTLE,
        poll: float = POLL,
        max_watches: int | None = None,
        full_every: int = FULL_EVERY,
        say: Callable[[str], None] = print,
        observer: Callable[[], object] | None = None,
    ):
        self.indexer, self.roots = indexer, [os.path.abspath(r) for r in roots]
        self.settle, self.poll, self.max_watches = settle, poll, max_watches
        self.full_every = full_every
        self.say, self.make_observer = say, observer
        self.wake, self.stopped = threading.Event(), threading.Event()
        self.changes = Changes(Path(indexer.library).resolve(), self.roots, self.wake)
        self.later: dict[str, float] = {}  # files not settled yet: when to look again
        self.looks: dict[str, tuple[tuple[int, int], float]] = {}  # file: (size, mtime), since
        self.mode, self.observer = "events", None
        self.said: Status | None = None  # the status last written, and when
        self.said_at = 0.0
        self.rounds = 0  # plans run, the first pass included
        self.release, self.idle_since = RELEASE, time.monotonic()
        self.away: set[str] = set()  # photo folders gone or empty (unmounted?), said once
        # Out of space: the places to try again; when; the room there was; the polls since.
        self.waiting: list = []
        self.retry_at, self.room, self.skipped = 0.0, 0, 0

    def stop(self) -> None:
        """End after the batch in flight (at once, when idle)."""
        self.stopped.set()
        self.wake.set()

    def run(
        self, rebuild: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> Summary:
        """The first pass (its `progress` told), then the changes as they come, until `stop()`.
        Returns the first pass's summary."""
        with self.indexer.opened(self.roots, rebuild) as job:
            for leftover in Path(self.indexer.library).glob(f"{STATUS}.tmp*"):
                leftover.unlink(missing_ok=True)
            self._observe()  # before the first pass: no change falls between the two
            try:
                first = self._round(job, None, progress)
                if self.observer is not None and len(job.plan.folders) > (self.max_watches or 1e18):
                    n, limit = len(job.plan.folders), self.max_watches
                    self._fall_back(f"{n} folders, more than --max-watches {limit} ({WATCHES})")
                self._watch(job)
            finally:
                self._fall_back(None)
                (Path(self.indexer.library) / STATUS).unlink(missing_ok=True)
        return first

    def _watch(self, job: Job) -> None:
        polls, next_poll = 0, time.monotonic() + self.poll
        while not self.stopped.is_set():
            self._status("full" if self.waiting else "indexing" if self.later else "current")
            now = time.monotonic()
            waits = [min(self.later.values(), default=now + 3600) - now]
            if self.waiting:
                waits.append(self.retry_at - now)
            if self.observer is None:
                waits.append(next_poll - now)
            if job.embedder.model is not None:  # a home server's memory: let it go when idle
                waits.append(self.idle_since + self.release - now)
            if self.wake.wait(max(min(waits), 0)):
                # A steady stream is planned anyway, and a file due is not kept waiting.
                gathering = min([time.monotonic() + 5 * QUIET, *self.later.values()])
                while self.wake.wait(QUIET) and time.monotonic() < gathering:
                    self.wake.clear()
                    if self.stopped.is_set():
                        return
            elif time.monotonic() >= self.idle_since + self.release:
                job.embedder.release()
                memory.give_back()
            self.wake.clear()
            if self.observer is not None and self.changes.out_of_watches:
                self._fall_back(limit(self.changes.out_of_watches))
            places = self.changes.take()
            now = time.monotonic()
            places += [("file", p) for p, when in self.later.items() if when <= now]
            self.later = {p: when for p, when in self.later.items() if when > now}
            if self.observer is None and now >= next_poll:
                polls, next_poll = polls + 1, now + self.poll
                places += self._rescan(job, full=polls % self.full_every == 0)
            if self.waiting:  # out of space: every change kept until the next try
                self.waiting = folded(self.waiting + places, self.roots)
                if not self._space_again(now):
                    continue
                places = self.waiting
            if (places := self._in_reach(places)) and not self.stopped.is_set():
                self._round(job, places)

    def _in_reach(self, places: list) -> list:
        """The places, but none under a photo folder that is gone or empty (an unmounted drive
        looks so): its photos are kept as they are, said once, until it is back and walked."""
        away = {r for r in self.roots if _empty(r)}
        for root in away - self.away:
            self.say(
                f"altclip-index: {root} is gone or empty: its photos are kept until it is "
                f"back (to forget them: {self.indexer.forget_command(root)})"
            )
        places += [("tree", r) for r in self.away - away]  # back: walked whole
        self.away = away
        return [(kind, path) for kind, path in places if not under(path, list(away))]

    def _round(self, job: Job, places: list | None, told=None) -> Summary:
        """One plan run through the stages; what it left unsettled is looked at later."""
        state = "full" if self.waiting else "indexing"  # a try while full: the page says full
        self._status(state)
        self.rounds += 1

        def progress(done: int, total: int) -> None:
            if told is not None:
                told(done, total)
            self._status(state, done, total)

        try:
            summary = job.index(places, self._settled, self.stopped, progress)  # unsettled: later
        except (AltCLIPError, OSError) as e:
            if not out_of_space(e):
                raise
            return self._wait_for_space(job, e, places)
        if self.waiting:
            self.say(f"{time.strftime('%H:%M:%S')} space again: indexing goes on")
            self.waiting = []
        self.looks = {p: v for p, v in self.looks.items() if p in self.later}
        changed = summary.added + summary.updated + summary.moved + summary.removed
        if places is None or changed or summary.failed or summary.interrupted:
            self.say(f"{time.strftime('%H:%M:%S')} {summary}")
        memory.give_back()  # altclip-index holds freed heap for its next batch
        self.idle_since = time.monotonic()
        return summary

    def _wait_for_space(self, job: Job, e: Exception, places: list | None) -> Summary:
        """A full disk (or quota) stopped the round: said once; its places, and every change
        that comes meanwhile, are tried again once there may be room (`_space_again`). What was
        stored stays (the next try's plan skips it); no row is marked failed for want of space."""
        if not self.waiting:
            where = shown(job.catalog.url) if isinstance(e, CatalogError) else job.indexer.library
            self.say(
                f"altclip-index: no space left to write into {where}: free some there (the "
                f"watcher looks every {self.poll:g} s and goes on once there is; nothing is lost)"
            )
        self.waiting = folded(self.waiting + (places or self._trees()), self.roots)
        self.room, self.skipped = _room(job.indexer.library), 0
        self.retry_at = time.monotonic() + self.poll
        return Summary()

    def _space_again(self, now: float) -> bool:
        """Whether to try again now: a poll has passed, and the library's disk has more room than
        when it was full, or `full_every` polls have passed (a quota, a catalog elsewhere)."""
        if now < self.retry_at:
            return False
        self.retry_at, self.skipped = now + self.poll, self.skipped + 1
        return self.skipped >= self.full_every or _room(self.indexer.library) > self.room

    def _trees(self) -> list:
        return [("tree", r) for r in self.roots]

    def _settled(self, entry: Entry) -> bool:
        """Whether the file has stopped changing (see the module's docstring); where not, it is
        put in `later`, for when it may have."""
        try:
            st = os.stat(entry.path)
        except OSError:
            return True  # gone or unreadable: the plan and decode say so
        if time.time_ns() - st.st_mtime_ns >= self.settle * 1e9:
            return True  # a rename keeps the time: a moved photo is read at once
        key, now = (st.st_size, st.st_mtime_ns), time.monotonic()
        seen = self.looks.get(entry.path)
        if seen is not None and seen[0] == key and now - seen[1] >= self.settle:
            return True  # unchanged for SETTLE seconds, whatever its clock says
        if seen is None or seen[0] != key:
            seen = self.looks[entry.path] = key, now
        # Looked at again once either way may say settled, not SETTLE after this look (which
        # comes QUIET and a round after the last write): its time SETTLE old, or seen so SETTLE.
        age = max(time.time_ns() - st.st_mtime_ns, 0) / 1e9
        self.later.setdefault(entry.path, now + min(self.settle - age, seen[1] + self.settle - now))
        return False

    def _rescan(self, job: Job, full: bool) -> list:
        """A polling rescan's places: the folders whose time changed, those gone, the roots
        never recorded (or all of them, on a full pass), and the files that failed."""
        if full:
            return self._trees()
        recorded = job.catalog.recorded(self.roots)
        places = [("tree", r) for r in self.roots if r not in recorded]
        for root in recorded:
            places += changed_folders(job.catalog.folder_times(root))
        failed = [p for p, _ in job.catalog.failures() if under(p, self.roots)]
        return places + [("file", p) for p in failed]

    def _observe(self) -> None:
        """The watchdog observer started on the roots (`self.observer`), or polling, said why
        where events cannot be had: a network share, or the kernel's limits."""
        for root in self.roots:
            if kind := network_share(root):
                share = f"{root} is on a network share ({kind})"
                return self._fall_back(f"{share}: changes made elsewhere send no events")
        if self.make_observer is None:
            from watchdog.observers import Observer

            self.make_observer = Observer
        self.observer = self.make_observer()
        logging.getLogger("watchdog.observers.inotify").addHandler(self.changes)
        try:
            for root in self.roots:
                self.observer.schedule(
                    self.changes, root, recursive=True, event_filter=watched_events()
                )
            self.observer.start()
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EMFILE):
                raise
            self._fall_back(limit(e.errno))

    def _fall_back(self, why: str | None) -> None:
        """The observer stopped, and, with `why`, said once: polling from now on."""
        if self.observer is not None:
            logging.getLogger("watchdog.observers.inotify").removeHandler(self.changes)
            self.observer.stop()
            if hasattr(self.observer, "join") and self.observer.is_alive():
                self.observer.join(5)
            self.observer = None
        if why is not None:
            self.mode = "polling"
            self.say(f"altclip-index: watching by polling every {self.poll:g} s: {why}")

    def _status(self, state: str, done: int = 0, total: int = 0) -> None:
        """LIBRARY/watch.json, written whole where the state changed; progress once a second
        at most (nothing is written while it waits)."""
        now, last = time.time(), self.said
        if last is not None and (last.state, last.mode) == (state, self.mode):
            if (last.done, last.total) == (done, total) or (now - self.said_at < 1 < total - done):
                return
        since = last.since if last is not None and last.state == state else now
        status = Status(os.getpid(), state, self.mode, done, total, since)
        path = Path(self.indexer.library) / STATUS
        tmp = temporary(path)
        try:
            tmp.write_text(json.dumps(asdict(status)))
            os.replace(tmp, path)
            self.said, self.said_at = status, now
        except OSError:  # a full disk: no status (the page says nothing) rather than a stale one
            for leftover in (tmp, path):
                with contextlib.suppress(OSError):
                    leftover.unlink(missing_ok=True)
            self.said = None


def _room(folder: Path) -> int:
    """The bytes free to this user on the disk that holds `folder` (0 where it cannot be told)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _empty(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return True
