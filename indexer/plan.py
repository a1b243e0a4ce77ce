"""The plan stage: what a run has to do at the places it plans (its folders, or a watcher's
changed paths), diffed against the catalog: which files to read (new, changed, failed before, or
with a damaged row), which are unchanged, which are gone, which moved (a renamed folder), and
which are only out of reach.

A place is ("tree", path): a folder walked whole (a run's folders, a folder that appeared or went
away); ("folder", path): a folder listed alone, its subfolders only where they are new (a polling
rescan's changed folder); ("file", path): one file (a watcher's event). The plan reads only the
catalog rows under the places it plans, never all at once: a tree's rows are streamed in the byte
order the walk goes in (scan.py) and diffed beside it, a folder's are read for that folder, a
file's in chunks of paths. It holds the rows of the files it will read or remove, no others.

What it guarantees:
- Nothing is removed because it could not be seen: photos in a folder that cannot be listed, or on
  a drive that is not mounted, are marked offline and kept (`unreachable`), never `gone`.
- A photo is moved only where its old file is gone and its new path lies in the nearest folder
  above the old one that is still there (`_moved`): its row, id and vector go with it, never a
  copy on another drive that may only be unmounted. A rename that a killed run left halfway is
  finished by the next. Within the places, a renamed folder's photos are new paths whose bytes
  the library has: their vectors are copied (Store.copy_known), never embedded again.
- A rebuild also takes in the library's photos outside the places, so that none is lost.
- A file that failed before is tried again when planned; a row whose vector or hash is damaged is
  made again from its photo (checked on a run's full pass, not on a watcher's events).
- A file still being written (`settled` says no) is left for a later plan (`settled`, the
  watcher's, says when to look again), and its folder's time is not recorded, so that no rescan
  passes it by.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from search.catalog import OK, Catalog, Known, under
from search.schema import utf8

from .scan import Entry, Rules, scan

Place = tuple[str, str]  # ("tree" | "folder" | "file", absolute path)


class Contents:
    """The contents (sha256) the library has a vector for: asked of the catalog one at a time
    (decoding threads ask), plus those this run stored. Iterating streams them all."""

    def __init__(self, source, rebuild: bool):
        self.source, self.rebuild, self.added = source, rebuild, set()

    def __contains__(self, sha256) -> bool:
        return sha256 in self.added or self.source.has_vector_for(sha256, self.rebuild)

    def add(self, sha256: str) -> None:
        self.added.add(sha256)

    def __iter__(self) -> Iterator[str]:
        yield from self.source.contents(self.rebuild)
        yield from self.added


@dataclass
class Plan:
    """What a run has to do: files to read, files gone, rows to mark out of reach (or back)."""

    todo: list[Entry]
    gone: list[str]
    offline: dict[str, bool]
    known: dict[str, Known]  # the rows of the files in `todo` and `gone`, no others
    hashes: Contents  # contents the catalog already has a vector for
    unchanged: int
    unreachable: int  # photos in folders that could not be read: kept, not removed
    moved: int = 0  # rows outside that a row here, stored by an earlier run, moved from
    damaged: dict[str, str] = field(default_factory=dict)  # path: what is wrong with its row
    folders: dict[str, int] = field(default_factory=dict)  # folders listed: their mtime_ns
    trees: list[str] = field(default_factory=list)  # folders walked whole
    scope: list[str] = field(default_factory=list)  # the places' paths
    source: Catalog | None = None  # asked where a file new here moved from (None: no moves)
    taken: set[str] = field(default_factory=set)  # rows outside already counted as moved

    def moved_in(self, path: str, sha256: str | None) -> list[str]:
        """The paths outside the places that the file at `path`, new here, with these bytes,
        moved from (a renamed folder). Asked once per content."""
        if path in self.known or sha256 is None or self.source is None:
            return []
        found = [p for p in self.source.paths_with(sha256) if p not in self.taken]
        found = [p for p in found if not under(p, self.scope) and _moved(p, path)]
        self.taken.update(found)
        return found


def make_plan(
    catalog: Catalog,
    roots: list[str],
    rebuild: bool,
    exclude: list[str] = (),
    include_hidden: bool = False,
    warn: Callable[[str], None] = print,
    places: list[Place] | None = None,
    settled: Callable[[Entry], bool] | None = None,
    pictured: Callable[[str], bool] | None = None,
) -> Plan:
    """Diff the `places` (default: each of `roots`, absolute paths, walked whole, with the
    damaged rows checked) against the catalog, or anything with its `known` and `damaged`
    (exchange.Exported: the shards an export wrote). `roots` are the run's folders, whose
    rules (hidden, --exclude, library folders) a file place is held to. A rebuild also takes in
    the library's photos outside the places, so that none is lost."""
    source = catalog if hasattr(catalog, "rows_under") else _Loaded(catalog.known(rebuild))
    full = places is None
    places = [("tree", r) for r in roots] if full else places
    damaged = dict(source.damaged(pictured)) if full and not rebuild else {}
    diff = _Diff(damaged, settled or (lambda e: True))
    rules = Rules(list(exclude), include_hidden)
    trees, folders, files = _sorted(places)
    for folder in folders:
        if os.path.isdir(folder):
            trees += _list_folder(source, folder, rebuild, rules, warn, diff)
        else:
            trees.append(folder)  # gone, or out of reach: as a tree
    files = [f for f in files if os.path.dirname(f) not in folders]  # listed with its folder
    for path, row in source.rows_at([f for f in files if not under(f, trees)], rebuild).items():
        diff.rows[path] = row
    for path in files:
        if not under(path, trees):
            trees += _file(path, diff.rows.pop(path, None), roots, rules, diff)
    trees = [t for t in sorted(set(trees)) if not under(os.path.dirname(t), trees) or t == "/"]
    trees = [t for t in trees if t in roots or not rules.left_out(t, _root(t, roots), True)]
    for tree in trees:
        _walk(source, tree, rebuild, rules, warn, diff)
    scope = trees + folders + files
    if rebuild:
        _outside(source, scope, diff)
    moved = []
    if not rebuild and isinstance(source, Catalog):
        for old, new in source.copies_outside(trees + files):  # moved by a stopped run
            if old not in moved and _moved(old, new):
                moved.append(old)
    plan = Plan(
        diff.todo,
        diff.gone + moved,
        diff.offline,
        diff.known,
        Contents(source, rebuild),
        diff.unchanged,
        diff.unreachable,
        len(moved),
        damaged,
    )
    plan.folders, plan.trees, plan.scope = diff.folders, trees, scope
    plan.source = None if rebuild or not isinstance(source, Catalog) else source
    plan.taken = set(moved)
    return plan


class _Diff:
    """What the places hold against what the catalog knows, a file at a time."""

    def __init__(self, damaged: dict[str, str], settled: Callable[[Entry], bool]):
        self.damaged, self.settled = damaged, settled
        self.todo, self.gone, self.offline, self.known = [], [], {}, {}
        self.folders: dict[str, int] = {}
        self.rows: dict[str, Known] = {}
        self.done: set[str] = set()  # the file places diffed (a tree found later passes them)
        self.unchanged = self.unreachable = 0

    def seen(self, entry: Entry, row: Known | None) -> None:
        if row is not None and row.offline:
            self.offline[entry.path] = False  # back in reach
        if (
            row is not None
            and row.status == OK  # a file that failed is tried again
            and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns)
            and entry.path not in self.damaged  # made again from the photo
        ):
            self.unchanged += 1
        elif not self.settled(entry):  # left for a later plan (the caller's `settled` keeps it)
            self.folders[os.path.dirname(entry.path)] = -1  # to be listed again
        else:
            self.todo.append(entry)
            if row is not None:
                self.known[entry.path] = row

    def unseen(self, path: str, row: Known, unreadable: list[str]) -> None:
        if under(path, unreadable):  # out of reach: kept
            self.unreachable += 1
            if not row.offline:
                self.offline[path] = True
        else:
            self.gone.append(path)
            self.known[path] = row


def _walk(source, tree: str, rebuild: bool, rules: Rules, warn, diff: _Diff) -> None:
    """A tree place walked and diffed beside its rows, both in byte order."""
    unreadable: list[str] = []
    rows = _Stream(source.rows_under(tree, rebuild))
    odd = source.odd_rows_under(tree, rebuild)
    walk: Iterable[Entry] = ()  # gone, or a file now (its next event plans it)
    try:
        os.stat(tree)  # gone or out of reach: said by the error
        if os.path.isdir(tree):
            walk = scan(
                [tree],
                rules.exclude,
                rules.include_hidden,
                warn,
                unreadable,
                listed=diff.folders.__setitem__,
            )
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        unreadable = [tree]  # out of reach

    def unseen(path: str, row: Known) -> None:
        """Gone, or out of reach; but a photo the walk would take that is there after all (the
        database sorted otherwise than the walk) is diffed, never removed."""
        try:
            st = None if rules.left_out(path, tree) else os.stat(path)
        except OSError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            diff.done.add(path)
            diff.seen(Entry(path, st.st_size, st.st_mtime_ns), row)
        else:
            diff.unseen(path, row, unreadable)

    for entry in walk:
        if utf8(entry.path):
            for path, row in rows.before(entry.path):
                unseen(path, row)
            row = rows.take(entry.path)
        else:
            row = odd.pop(entry.path, None)
        if entry.path not in diff.done:
            diff.seen(entry, row)
    for path, row in [*rows.before(None), *odd.items()]:
        unseen(path, row)


def _list_folder(source, folder: str, rebuild: bool, rules: Rules, warn, diff: _Diff) -> list[str]:
    """A folder place: its own files diffed against its own rows; returns its subfolders that
    have no recorded time (new ones), to be walked whole."""
    unreadable: list[str] = []
    rows, subfolders = source.rows_in(folder, rebuild), []

    def note(subfolder: str) -> bool:  # listed by its own rescan, or walked whole if new
        subfolders.append(subfolder)
        return False

    walk = scan(
        [folder],
        rules.exclude,
        rules.include_hidden,
        warn,
        unreadable,
        listed=diff.folders.__setitem__,
        descend=note,
    )
    for entry in walk:
        diff.seen(entry, rows.pop(entry.path, None))
    for path, row in rows.items():
        diff.unseen(path, row, unreadable)
    recorded = source.recorded(subfolders)
    return [s for s in subfolders if s not in recorded]


def _file(path: str, row: Known | None, roots: list[str], rules: Rules, diff: _Diff) -> list[str]:
    """A file place; returns [path] where it is a folder now (to be walked whole)."""
    diff.done.add(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if row is not None:
            diff.unseen(path, row, [])
        return []
    except OSError:
        if row is not None:
            diff.unseen(path, row, [path])
        return []
    if os.path.isdir(path):
        return [path]
    root = _root(path, roots)
    if rules.left_out(path, root):
        if row is not None:
            diff.unseen(path, row, [])
    else:
        diff.seen(Entry(path, st.st_size, st.st_mtime_ns), row)
    return []


def _outside(source, scope: list[str], diff: _Diff) -> None:
    """A rebuild's photos outside its places: each read again where its file is there; the
    rebuild's rows of files no longer in the library are gone."""
    for chunk in source.outside(scope):
        chunk = [p for p in chunk if not under(p, scope)]
        rows = source.rows_at(chunk, True)
        for path in chunk:
            try:
                st = os.stat(path)
                diff.seen(Entry(path, st.st_size, st.st_mtime_ns), rows.get(path))
            except OSError:  # gone: left out of the rebuilt library, as a run over it would
                if path in rows:
                    diff.unseen(path, rows[path], [])
    for chunk in source.outside(scope, True):
        for path, row in source.rows_at(chunk, True).items():
            diff.unseen(path, row, [])


def _sorted(places: list[Place]) -> tuple[list[str], list[str], list[str]]:
    """The places' paths by kind (absolute, without repeats; none inside a tree)."""
    kinds: dict[str, set[str]] = {"tree": set(), "folder": set(), "file": set()}
    for kind, path in places:
        kinds[kind].add(os.path.abspath(path))
    trees = sorted(kinds["tree"])
    trees = [t for t in trees if not under(os.path.dirname(t), trees) or t == os.sep]
    folders = sorted(f for f in kinds["folder"] if not under(f, trees))
    files = sorted(f for f in kinds["file"] if not under(f, trees))
    return trees, folders, files


class _Stream:
    """Rows (path, Known) in byte order, taken as the walk comes to them."""

    def __init__(self, rows: Iterable[tuple[str, Known]]):
        self.rows = iter(rows)
        self.head = next(self.rows, None)

    def before(self, path: str | None) -> Iterator[tuple[str, Known]]:
        """The rows before `path` (all that are left, for None)."""
        while self.head is not None and (path is None or self.head[0] < path):
            yield self.head
            self.head = next(self.rows, None)

    def take(self, path: str) -> Known | None:
        if self.head is not None and self.head[0] == path:
            row, self.head = self.head[1], next(self.rows, None)
            return row
        return None


class _Loaded:
    """A plan's source whose rows are in memory already (exchange.Exported: the shards an
    export wrote, read whole), answering as the catalog does."""

    def __init__(self, rows: dict[str, Known]):
        self.rows = rows

    def rows_under(self, place: str, rebuild: bool = False):
        return sorted((p, k) for p, k in self.rows.items() if under(p, [place]) and utf8(p))

    def odd_rows_under(self, place: str, rebuild: bool = False) -> dict[str, Known]:
        return {p: k for p, k in self.rows.items() if under(p, [place]) and not utf8(p)}

    def rows_in(self, folder: str, rebuild: bool = False) -> dict[str, Known]:
        return {p: k for p, k in self.rows.items() if os.path.dirname(p) == folder}

    def rows_at(self, paths: list[str], rebuild: bool = False) -> dict[str, Known]:
        return {p: self.rows[p] for p in paths if p in self.rows}

    def recorded(self, folders: list[str]) -> set[str]:
        return set()

    def damaged(self, pictured=None) -> list:
        return []


def _root(path: str, roots: list[str]) -> str:
    """The innermost of `roots` that `path` lies under ("/" where none: no rules but MARKER)."""
    return max((r for r in roots if under(path, [r]) and r != path), key=len, default=os.sep)


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
