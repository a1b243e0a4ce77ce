"""The catalog API and the incremental vector index, in SQLite and in the real PostgreSQL server:
changes since a generation, a base plus a delta equal to brute force, integrity checks, folder
filters, and searchers that never write."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search import publishing, vector_index
from search.catalog import Catalog, Model, Record
from search.vector_index import refreshed
from tests.conftest import AS_USER, new_database

ROOT = Path(__file__).resolve().parents[1]
DIM = 32


def make_catalog(folder: Path, url: str | None = None) -> Catalog:
    folder.mkdir()
    catalog = Catalog.open(folder, url)
    catalog.set_model(Model("tiny", "f" * 16, DIM))
    return catalog


@pytest.fixture(params=["sqlite", "postgresql"])
def new_catalog(request, tmp_path):
    """Makes empty catalogs with a model recorded, in the parametrised database."""

    def make(name: str = "lib") -> tuple[Path, Catalog]:
        url = None
        if request.param == "postgresql":
            url = new_database(request.getfixturevalue("postgres_url"))
        return tmp_path / name, make_catalog(tmp_path / name, url)

    return make


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def add(catalog: Catalog, vectors: np.ndarray, first: int = 0, folder: str = "/photos") -> None:
    catalog.store(
        [
            Record(
                f"{folder}/{first + i:05d}.jpg", 1, 1, f"{first + i:064x}", embedding=v.tobytes()
            )
            for i, v in enumerate(vectors)
        ]
    )


def brute_force(catalog: Catalog, query: np.ndarray, k: int) -> list[int]:
    ids, vectors = (np.concatenate(a) for a in zip(*catalog.vectors(), strict=True))
    return ids[np.argsort(-(vectors @ query), kind="stable")[:k]].tolist()


def listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())


def test_changes_since_a_generation(new_catalog):
    _, catalog = new_catalog()
    rng = np.random.default_rng(0)
    add(catalog, unit(rng, 10))
    g = catalog.generation()
    ids = {p: i for i, p in zip(*_ids_and_paths(catalog), strict=True)}
    add(catalog, unit(rng, 2), first=10)  # two new photos
    add(catalog, unit(rng, 1), first=3)  # photo 3 changed
    catalog.finish_run(gone=["/photos/00005.jpg"], offline={})  # photo 5 removed
    changes = catalog.changes_since(g, DIM)
    assert changes.generation == catalog.generation() > g
    new = {ids["/photos/00003.jpg"], max(ids.values()) + 1, max(ids.values()) + 2}
    assert set(changes.ids.tolist()) == new and changes.vectors.shape == (3, DIM)
    assert set(changes.dead.tolist()) == new | {ids["/photos/00005.jpg"]}
    assert catalog.change_count(g) == 4
    assert catalog.changes_since(catalog.generation(), DIM).ids.size == 0


def _ids_and_paths(catalog: Catalog) -> tuple[list[int], list[str]]:
    photos = catalog.photos(list(range(1, 10_000)))
    return list(photos), [p.path for p in photos.values()]


def test_a_searcher_sees_changes_without_a_new_base(new_catalog):
    """Base (PQ, approximate) + delta: exact searches equal brute force after adds, changes and
    removals; approximate ones find the same; the searcher writes nothing."""
    folder, catalog = new_catalog()
    rng = np.random.default_rng(1)
    add(catalog, unit(rng, 3000))
    generation = publishing.publish(folder / "index", catalog, exact=False)
    searcher = refreshed(None, folder / "index", catalog)
    assert searcher.base is not None and searcher.base.generation == generation
    assert not searcher.exact and not len(searcher.delta_ids)
    before = listing(folder / "index")

    add(catalog, unit(rng, 50), first=3000)
    add(catalog, unit(rng, 20), first=100)  # changed vectors
    catalog.finish_run(gone=[f"/photos/{i:05d}.jpg" for i in range(200, 230)], offline={})
    assert not publishing.stale(folder / "index", catalog)  # 100 changes: under 5% of 3000
    searcher = refreshed(searcher, folder / "index", catalog)
    assert searcher.base.generation == generation and len(searcher.delta_ids) == 70
    assert len(searcher) == 3000 + 50 - 30
    queries = unit(rng, 20)
    for q in queries:
        assert searcher.search(q, 10, exact=True)[1][0].tolist() == brute_force(catalog, q, 10)
    found = searcher.search(queries, 10)[1]
    recall = np.mean(
        [
            len(set(f) & set(brute_force(catalog, q, 10)))
            for q, f in zip(queries, found, strict=True)
        ]
    )
    assert recall >= 9.5
    with pytest.MonkeyPatch.context() as patch:  # the PQ candidates asked a few queries at a time
        patch.setattr(vector_index, "CANDIDATES", 3 * 10 * searcher.base.k_factor)
        assert (searcher.search(queries, 10)[1] == found).all()
    changed = catalog.photos([101])[101]  # found by its new vector
    assert searcher.search(changed.vector, 1)[1][0][0] == 101
    some = np.array([3049, 101, 7, 2999, 3000, 120])  # new, changed and base photos, any order
    stored = catalog.photos(some.tolist())
    assert (searcher.vectors_of(some) == np.stack([stored[i].vector for i in some])).all()
    for missing in ([210], [5000], [-1]):  # removed, never added
        with pytest.raises(KeyError, match=str(missing[0])):
            searcher.vectors_of(np.array([7, *missing]))
    assert listing(folder / "index") == before


def test_stale_base_is_rebuilt_and_removals_forgotten(new_catalog):
    folder, catalog = new_catalog()
    rng = np.random.default_rng(2)
    add(catalog, unit(rng, 400))
    first = publishing.publish(folder / "index", catalog)
    assert not publishing.stale(folder / "index", catalog)
    catalog.finish_run(gone=[f"/photos/{i:05d}.jpg" for i in range(30)], offline={})
    assert publishing.stale(folder / "index", catalog)  # 30 of 400: past 5%
    second = publishing.publish(folder / "index", catalog)
    assert second > first and {p.name.split(".")[0] for p in (folder / "index").iterdir()} == {
        str(second)
    }
    assert catalog.change_count(second) == 0
    searcher = refreshed(None, folder / "index", catalog)
    assert len(searcher) == 370 and not len(searcher.delta_ids)


def test_damaged_or_foreign_bases_are_never_used(new_catalog, tmp_path):
    folder, catalog = new_catalog("a")
    other_folder, other = new_catalog("b")
    rng = np.random.default_rng(3)
    add(catalog, unit(rng, 300))
    add(other, unit(rng, 300))
    publishing.publish(other_folder / "index", other)
    shutil.copytree(other_folder / "index", folder / "index")  # another library's index
    searcher = refreshed(None, folder / "index", catalog)
    assert searcher.base is None and len(searcher) == 300
    q = unit(rng, 1)[0]
    assert searcher.search(q, 5)[1][0].tolist() == brute_force(catalog, q, 5)

    generation = publishing.publish(folder / "index", catalog)
    manifest = folder / "index" / f"{generation}.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(m | {"dim": DIM * 2}))  # another model's dimension
    assert refreshed(None, folder / "index", catalog).base is None
    manifest.write_text(json.dumps(m))
    assert refreshed(None, folder / "index", catalog).base is not None
    ids_file = folder / "index" / f"{generation}.ids"
    data = bytearray(ids_file.read_bytes())
    data[-100:] = bytes(reversed(data[-100:]))  # its last 100 bytes altered
    ids_file.write_bytes(bytes(data))
    searcher = refreshed(None, folder / "index", catalog)
    assert searcher.base is None and searcher.search(q, 5)[1][0].tolist() == brute_force(
        catalog, q, 5
    )


def test_a_base_is_read_whole_once_per_boot_while_it_stays_as_it_was(new_catalog, monkeypatch):
    """Its CRC-32s, once found intact, are remembered (in the cache) for this boot with each
    file's inode, size, modification and change times: the next searcher reads no byte to trust
    it, one after a reboot reads it whole; a byte changed in place, its modification time set
    back, is found still (the change time moved)."""
    folder, catalog = new_catalog()
    add(catalog, unit(np.random.default_rng(5), 300))
    generation = publishing.publish(folder / "index", catalog)
    vector_index._crc32.cache_clear()  # as a new process
    assert refreshed(None, folder / "index", catalog).base is not None  # read, found intact
    read = []
    monkeypatch.setattr(vector_index, "crc32", lambda path: read.append(path) or 0)
    assert refreshed(None, folder / "index", catalog).base is not None
    assert read == []  # remembered: nothing read again
    monkeypatch.setattr(vector_index, "_boot", lambda: "the next boot")  # a crash, say
    assert refreshed(None, folder / "index", catalog).base is None and read  # read again
    vectors = folder / "index" / f"{generation}.f32"
    st = vectors.stat()
    with open(vectors, "r+b") as f:
        f.seek(st.st_size // 2)
        byte = f.read(1)
        f.seek(st.st_size // 2)
        f.write(bytes([byte[0] ^ 1]))
    os.utime(vectors, ns=(st.st_atime_ns, st.st_mtime_ns))  # as it was, to the nanosecond
    monkeypatch.undo()
    assert refreshed(None, folder / "index", catalog).base is None  # read again: damaged


def test_folder_filter_matches_what_people_type(new_catalog):
    _, catalog = new_catalog()
    paths = [
        "/p/旅行 2023/a.jpg",
        "/p/2023/Trips/b.jpg",
        "/p/x/旅行.jpg",  # 旅行 in the file's name only
        "/p/100%_done/c.jpg",
        "/p/1000 done/d.jpg",
        os.fsdecode(b"/p/caf\xe9/e.jpg"),  # not UTF-8: stored as hex
    ]
    v = unit(np.random.default_rng(4), len(paths))
    catalog.store(
        [
            Record(p, 1, 1, f"{i:064x}", embedding=x.tobytes())
            for i, (p, x) in enumerate(zip(paths, v, strict=True))
        ]
    )
    photos = catalog.photos(list(range(1, 100)))

    def found(folder: str) -> set[str]:
        return {photos[i].path for i in catalog.passing(folder=folder).tolist()}

    assert found("旅行") == {"/p/旅行 2023/a.jpg"}
    assert found("trips") == {"/p/2023/Trips/b.jpg"}  # any case
    assert found("/p/2023") == {"/p/2023/Trips/b.jpg"}  # an absolute path: that subtree
    assert found("/p/20") == set()
    assert found("100%") == {"/p/100%_done/c.jpg"}  # % and _ are literal
    assert found(os.fsdecode(b"/p/caf\xe9")) == {paths[-1]}
    assert found("2023") == {"/p/旅行 2023/a.jpg", "/p/2023/Trips/b.jpg"}


def test_a_read_only_library_searches(tmp_path):
    """A library folder on storage the searcher cannot write to (root's override dropped)
    searches, and a search writes nothing into the library folder."""
    folder = tmp_path / "lib"
    catalog = make_catalog(folder)
    rng = np.random.default_rng(5)
    add(catalog, unit(rng, 100))
    publishing.publish(folder / "index", catalog)
    add(catalog, unit(rng, 5), first=100)  # and a delta
    catalog.engine.dispose()
    before = listing(folder), listing(folder / "index")
    child = (
        "import sys, numpy as np\n"
        "from search import Library\n"
        "lib = Library.open(sys.argv[1])\n"
        "index = lib.refresh()\n"
        "print(len(index), len(index.delta_ids), lib.status().photos)\n"
    )
    for path in [folder, folder / "index", *folder.iterdir(), *(folder / "index").iterdir()]:
        path.chmod(path.stat().st_mode & 0o555)
    try:
        result = subprocess.run(
            [*AS_USER, sys.executable, "-c", child, folder],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        for path in [folder, folder / "index", *folder.iterdir(), *(folder / "index").iterdir()]:
            path.chmod(path.stat().st_mode | 0o200)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["105", "5", "105"]
    assert (listing(folder), listing(folder / "index")) == before
