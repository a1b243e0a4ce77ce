"""Copy groups belong to the library (issue 28): found when photos are indexed, stored in the
catalog, kept as photos come and go, and read by searches without a thumbnail. On toy photos
with generated copies (tests/toydup.py: bursts, JPEG re-encodes, resized and cropped copies),
indexed with the toy model."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer import Indexer
from search import Library, copies
from search import duplicates as near
from search.catalog import Catalog
from search.cli import main as search_main
from search.images import stored_picture
from search.vector_index import VectorIndex
from tests import toydup, toyworld
from tests.conftest import new_database

ROOT = Path(__file__).resolve().parent.parent
SCENES = 75  # about 140 photos: more than a typical pair is measured on (near.SAMPLE_ROWS)


@pytest.fixture(scope="module")
def toy_model():
    return toyworld.model_folder()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Distinct toy scenes, about half with 1-3 generated copies, as PNG files."""
    return generated(tmp_path_factory.mktemp("photos"), SCENES, seed=41)


def generated(root: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    scenes = toyworld.distinct_scenes(rng, n)
    images, _, _ = toydup.photos_with_copies(rng, n, scenes=scenes)
    root.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        image.save(root / f"{i:03d}.png")
    return root


def index(library: Path, model: Path, folder: Path, url: str | None = None, **kw):
    return Indexer(library=library, model=str(model), catalog_url=url, **kw).run([folder])


def stored(catalog: Catalog) -> dict[str, set[str]]:
    """The stored groups by path: {leader's file name: its members' names}."""
    groups = catalog.copy_groups()
    ids = list(groups) + [m for rows in groups.values() for m, _ in rows]
    name = {i: Path(p.path).name for i, p in catalog.photos(ids).items()}
    return {name[leader]: {name[m] for m, _ in rows} for leader, rows in groups.items()}


def partition(groups: dict[str, set[str]]) -> set[frozenset[str]]:
    return {frozenset({leader, *members}) for leader, members in groups.items()}


def as_before(lib: Library) -> set[frozenset[str]]:
    """The library's groups as they were found before the groups were stored (the same
    function over every photo, at the thresholds of the library's relevance background, the
    thumbnails' pixels compared), by file name."""
    ids, vectors = (np.concatenate(a) for a in zip(*lib.catalog.vectors(), strict=True))
    threshold, candidate = copies.thresholds(lib.matching.background(lib.refresh()))
    hashes = lib.catalog.hashes(ids.tolist())

    def looks(row: int):
        return lib.copies.look(hashes[int(ids[row])])

    found = near.groups(ids, vectors, threshold, looks=looks, candidate=candidate)
    name = {i: Path(p.path).name for i, p in lib.catalog.photos(ids.tolist()).items()}
    return {frozenset(name[i] for i in g) for g in found}


def test_a_new_photo_joins_its_leader_and_the_rest_group_by_the_star_rule():
    """Placed as they come: a photo near-duplicate of two leaders joins the one it is closest to
    that has room; photos near no leader form groups with each other and with photos alone,
    led by the one with the most near-duplicates; a photo placed later is taken by no one."""
    near_of = {
        10: [(1, 0.99), (2, 0.98)],  # 1 leads a full group, 2 one with room
        11: [(12, 0.97), (13, 0.96), (5, 0.96), (30, 0.99)],  # 5 alone, 30 placed later
        12: [(11, 0.97), (5, 0.95)],
        13: [(11, 0.96)],
        5: [(11, 0.96), (12, 0.95)],
    }
    rows = near.place([10, 11, 12, 13], near_of, {3: 1, 4: 2}, {1: 64, 2: 2}, waiting={30})
    assert sorted(rows) == [(5, 11, 0.96), (10, 2, 0.98), (12, 11, 0.97), (13, 11, 0.96)]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_groups_stored_when_indexed_are_those_found_before(
    database, photos, toy_model, tmp_path, request
):
    """The groups the indexer stores are the groups the whole-library method found per call, at
    the same thresholds (stored with them), in SQLite and PostgreSQL alike; a second run
    changes nothing."""
    url = new_database(request.getfixturevalue("postgres_url")) if database != "sqlite" else None
    index(tmp_path / "lib", toy_model, photos, url)
    lib = Library.open(tmp_path / "lib", url)
    groups = stored(lib.catalog)
    assert len(groups) >= 20 and partition(groups) == as_before(lib)
    state = lib.catalog.copies_state()
    background = lib.matching.background(lib.refresh())
    assert (state["threshold"], state["candidate"]) == copies.thresholds(background)
    assert state["generation"] == lib.catalog.generation() and state["to"] is None
    index(tmp_path / "lib", toy_model, photos, url)
    assert (
        stored(lib.catalog) == groups
        and lib.catalog.copies_state()["threshold"] == state["threshold"]
    )


def test_a_library_made_before_gets_its_groups_on_the_next_run(photos, toy_model, tmp_path):
    """A catalog at schema 3 whose copies table is empty (made before the groups were stored):
    the next run groups every photo, re-embedding none; made in small blocks, the groups are
    the same."""
    library = tmp_path / "lib"
    index(library, toy_model, photos)
    catalog = Catalog.open(library)
    groups = stored(catalog)
    with closing(sqlite3.connect(library / "catalog.sqlite")) as db, db:
        db.execute("DELETE FROM copies")
        db.execute("DELETE FROM meta WHERE key = 'copies'")
    vectors = np.concatenate([v for _, v in catalog.vectors()])
    generation = catalog.generation()
    summary = index(library, toy_model, photos, workers=1)
    assert summary.unchanged == len(vectors) and not summary.added and not summary.updated
    assert np.array_equal(np.concatenate([v for _, v in catalog.vectors()]), vectors)
    assert catalog.changes_since(generation, vectors.shape[1]).ids.size == 0  # no row rewritten
    assert stored(catalog) == groups

    with closing(sqlite3.connect(library / "catalog.sqlite")) as db, db:
        db.execute("DELETE FROM copies")
        db.execute("DELETE FROM meta WHERE key = 'copies'")
    thumbnail = lambda sha: stored_picture(library, sha, "thumbs")  # noqa: E731
    copies.regroup(
        catalog, lambda: VectorIndex.open(library / "index", catalog), thumbnail, block=16
    )
    assert partition(stored(catalog)) == partition(groups)


def test_photos_that_come_and_go_keep_their_groups(photos, toy_model, tmp_path):
    """A copy added later joins its photo's group (the thresholds stay as first measured); a
    removed leader's copies are grouped again among themselves; a changed photo leaves its
    group."""
    folder = tmp_path / "photos"
    shutil.copytree(photos, folder)
    rng = np.random.default_rng(5)
    picture = toyworld.render(toyworld.Scene("circle", "red", 3, "large", None, "grey"), rng)
    family = ["family-0.png", "family-1.png", "family-2.png", "family-3.png"]
    picture.save(folder / family[0])
    for name in family[1:]:
        toydup.variant(picture, "jpeg", rng).save(folder / name)
    library = tmp_path / "lib"
    index(library, toy_model, folder)
    catalog = Catalog.open(library)
    state, before = catalog.copies_state(), stored(catalog)
    (leader,) = [g for g in before if g in family or before[g] & set(family)]
    assert {leader, *before[leader]} == set(family)

    lone = sorted({p.name for p in folder.iterdir()} - {n for g in partition(before) for n in g})
    with_copies = next(g for g in before if g not in family)
    for name, kind in ((lone[0], "resized"), (with_copies, "burst")):
        toydup.variant(toyworld_image(folder / name), kind, rng).save(folder / f"new-{name}")
    index(library, toy_model, folder)
    after = stored(catalog)
    assert catalog.copies_state()["threshold"] == state["threshold"]
    assert catalog.copies_state()["candidate"] == state["candidate"]
    assert after[with_copies] == before[with_copies] | {f"new-{with_copies}"}
    assert after[lone[0]] == {f"new-{lone[0]}"}

    (folder / leader).unlink()
    index(library, toy_model, folder)
    regrouped = stored(catalog)
    assert {frozenset(g) for g in partition(regrouped) if g & set(family)} == {
        frozenset(set(family) - {leader})
    }
    assert {g: m for g, m in regrouped.items() if g not in family} == {
        g: m for g, m in after.items() if g != leader
    }

    member = sorted(after[with_copies])[0]
    noise = rng.integers(0, 256, (128, 128, 3), np.uint8)  # like no other photo
    Image.fromarray(noise).save(folder / member)
    index(library, toy_model, folder)
    assert member not in {n for g in partition(stored(catalog)) for n in g}


def toyworld_image(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


# A run of the indexer that writes its groups slowly, a few photos a block, so that a kill can
# land in the middle of a pass: the same code, only slower.
SLOW = """
import sys, time
from search import copies
from search.catalog import Catalog
write = Catalog.write_copies
def slowly(self, *args):
    time.sleep(0.05)
    write(self, *args)
Catalog.write_copies = slowly
copies.BLOCK = 3
from indexer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def catalog_says(library: Path, query: str):
    uri = f"file:{urllib.parse.quote(str(library / 'catalog.sqlite'))}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            return db.execute(query).fetchone()
    except sqlite3.Error:
        return None  # not made yet


def photos_stored(library: Path) -> int:
    return (catalog_says(library, "SELECT count(*) FROM photos") or (0,))[0]


def pass_done(library: Path) -> int | None:
    """The last photo placed by the pass under way, or None where none is."""
    row = catalog_says(library, "SELECT value FROM meta WHERE key = 'copies'")
    state = json.loads(row[0]) if row else None
    return None if state is None or state["to"] is None else state["done"]


def killed_when(cmd: list[str], ready) -> None:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while proc.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_kill_then_the_rerun_gives_the_groups_of_an_uninterrupted_run(toy_model, tmp_path):
    """kill -9 while photos are stored, then twice while the groups are placed (a block at a
    time): the rerun finishes the pass and ends with the groups of a run never killed."""
    folder = generated(tmp_path / "photos", 24, seed=3)
    clean, library = tmp_path / "clean", tmp_path / "killed"
    cmd = [sys.executable, "-c", SLOW, str(folder), "--model", str(toy_model)]
    cmd += ["--batch-size", "4", "--library"]
    subprocess.run([*cmd, str(clean)], cwd=ROOT, check=True, capture_output=True)
    killed_when([*cmd, str(library)], lambda: photos_stored(library) > 0)
    assert 0 < photos_stored(library) < photos_stored(clean)
    killed_when([*cmd, str(library)], lambda: (pass_done(library) or -1) > 0)
    first = pass_done(library)
    assert first is not None and first > 0, "the kill landed in the middle of a pass"
    killed_when([*cmd, str(library)], lambda: (pass_done(library) or -1) > first + 6)
    assert pass_done(library) is not None
    subprocess.run([*cmd, str(library)], cwd=ROOT, check=True, capture_output=True)
    assert pass_done(library) is None
    groups = stored(Catalog.open(library))
    assert len(groups) >= 3 and groups == stored(Catalog.open(clean))


def test_searches_fold_by_stored_group_without_a_thumbnail(photos, toy_model, tmp_path, capsys):
    """With every thumbnail deleted after indexing, `search(group=True)` and `--duplicates`
    give what they gave with them: nothing a searcher does reads a picture, or writes."""
    library = tmp_path / "lib"
    index(library, toy_model, photos)
    lib = Library.open(library)
    n = len(lib.refresh())
    grouped = lib.search("红色的圆", k=n, group=True)
    assert sum(1 + len(h.duplicates) for h in grouped) == n
    assert {frozenset([h.id, *(d.id for d in h.duplicates)]) for h in grouped if h.duplicates} == {
        frozenset([leader, *(m for m, _ in rows)])
        for leader, rows in lib.catalog.copy_groups().items()
    }
    few = lib.search("红色的圆", k=5, group=True)
    assert search_main(["--duplicates", "--json", "--library", str(library)]) == 0
    listed = capsys.readouterr().out
    state, generation = lib.catalog.copies_state(), lib.catalog.generation()

    shutil.rmtree(library / "thumbs")
    again = Library.open(library)
    assert again.search("红色的圆", k=n, group=True) == grouped
    assert again.search("红色的圆", k=5, group=True) == few
    assert search_main(["--duplicates", "--json", "--library", str(library)]) == 0
    assert capsys.readouterr().out == listed and json.loads(listed.splitlines()[0])["group"] == 1
    assert again.catalog.copies_state() == state and again.catalog.generation() == generation
