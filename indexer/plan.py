"""The plan stage: scan the run's folders (indexer/scan.py) and diff them against the catalog:
which files to read (new, changed, failed before, or with a damaged row), which are unchanged,
which are gone, which moved (a renamed folder), and which are only out of reach.

What it guarantees:
- Nothing is removed because it could not be seen: photos in a folder that cannot be listed, or on
  a drive that is not mounted, are marked offline and kept (`unreachable`), never `gone`.
- A photo is moved only where its old file is gone and its new path lies in the nearest folder
  above the old one that is still there (`_moved`): its row, id and vector go with it, never a
  copy on another drive that may only be unmounted. A rename that a killed run left halfway is
  finished by the next.
- A rebuild also takes in the library's photos outside the run's folders, so that none is lost.
- A file that failed before is tried again; a row whose vector or hash is damaged is made again
  from its photo.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from search.catalog import OK, Catalog, Known, under

from .scan import Entry, scan


@dataclass
class Plan:
    """What a run has to do: files to read, files gone, rows to mark out of reach (or back)."""

    todo: list[Entry]
    gone: list[str]
    offline: dict[str, bool]
    known: dict[str, Known]  # the rows under the run's folders
    hashes: set[str]  # contents the catalog already has a vector for
    unchanged: int
    unreachable: int  # photos in folders that could not be read: kept, not removed
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # sha256: paths outside
    moved: int = 0  # rows outside that a row here, stored by an earlier run, moved from
    damaged: dict[str, str] = field(default_factory=dict)  # path: what is wrong with its row

    def moved_in(self, path: str, sha256: str | None) -> list[str]:
        """The paths outside the run's folders that the file at `path`, new here, with these
        bytes, moved from (a renamed folder). Asked once per content."""
        if path in self.known or sha256 is None:
            return []
        return [p for p in self.elsewhere.pop(sha256, []) if _moved(p, path)]


def make_plan(
    catalog: Catalog,
    roots: list[str],
    rebuild: bool,
    exclude: list[str] = (),
    include_hidden: bool = False,
    warn: Callable[[str], None] = print,
) -> Plan:
    """Scan `roots` (absolute paths) and diff them against the catalog, or anything with its
    `known` and `damaged` (exchange.Exported: the shards an export wrote). A rebuild also takes
    in the library's photos outside `roots`, so that none is lost."""
    rows = catalog.known(rebuild)
    hashes = {k.sha256 for k in rows.values() if k.status == OK}
    damaged = {} if rebuild else dict(catalog.damaged())
    # A rebuild's table holds this run's photos only; the library's hold other roots too.
    known, elsewhere, moved = rows, {}, []
    if not rebuild:
        known = {}
        for p, k in rows.items():
            if under(p, roots):
                known[p] = k
            elif k.sha256 and not k.offline:
                elsewhere.setdefault(k.sha256, []).append(p)
        for p, k in known.items():  # moved by an earlier run that was stopped
            moved += [o for o in elsewhere.pop(k.sha256, []) if _moved(o, p)]
    outside = catalog.paths_outside(roots) if rebuild else []
    todo, seen, unreadable, unchanged = [], set(), [], 0
    for entry in itertools.chain(
        scan(roots, exclude, include_hidden, warn, unreadable), entries(outside)
    ):
        seen.add(entry.path)
        row = known.get(entry.path)
        if (
            row is not None
            and row.status == OK  # a file that failed is tried again
            and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns)
            and entry.path not in damaged  # made again from the photo
        ):
            unchanged += 1
        else:
            todo.append(entry)
    unseen = [p for p in known if p not in seen]
    gone = [p for p in unseen if not under(p, unreadable)]
    out_of_reach = set(unseen) - set(gone)
    offline = {p: p in out_of_reach for p in known if (p in out_of_reach) != known[p].offline}
    plan = Plan(todo, gone + moved, offline, known, hashes, unchanged, len(out_of_reach))
    plan.elsewhere, plan.moved, plan.damaged = elsewhere, len(moved), damaged
    return plan


def entries(paths: list[str]) -> Iterator[Entry]:
    """The files at `paths` as the scan gives them; those gone are left out (of a rebuilt
    library, as a run over their folder would)."""
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue  # gone: left out of the rebuilt library, as a run over its folder would
        yield Entry(path, st.st_size, st.st_mtime_ns)


def _moved(old: str, new: str) -> bool:
    """True where the file at `old` is gone (not out of reach: an unreadable or unmounted
    folder keeps its photos) and `new`, with its bytes, lies in the nearest folder above `old`
    that is still there: `~/P/trip/a.jpg` -> `~/P/trip-2023/a.jpg`, but not `/mnt/nas/a.jpg` ->
    `~/Pictures/a.jpg`, whose drive may only be unmounted."""
    try:
        os.lstat(old)
        return False
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        return False  # out of reach, not gone
    above = os.path.dirname(old)
    while not os.path.isdir(above) and above != os.path.dirname(above):
        above = os.path.dirname(above)
    return above != os.path.dirname(above) and under(new, [above])
