"""Trust in what the catalog says: an index never outlives the catalog it was made from (a backup
restored beside it), a damaged row is left out and made again, a run reports only rows it can
read back, and a searcher on a read-only catalog leaves nothing that blocks a writer."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from indexer import Indexer
from search import Library, publishing
from search.catalog import Catalog, CatalogError, Model, Record
from search.vector_index import refreshed
from tests.conftest import AS_USER
from tests.test_hostile import cli, rows
from tests.test_parity import photo
from tests.test_vector_index import add, brute_force, new_catalog, unit  # noqa: F401 (a fixture)


def test_a_catalog_restored_from_a_backup_never_trusts_a_newer_index(tmp_path):
    """The catalog at 200 photos is backed up; 150 are removed and 150 others added, and an
    index published; then the backup is restored beside that index. Every search must equal
    brute force over the restored catalog, the next run must rebuild the index, and no id the
    newer index held is given again."""
    folder = tmp_path / "lib"
    folder.mkdir()
    catalog = Catalog.open(folder)
    catalog.set_model(Model("tiny", "f" * 16, 32))
    rng = np.random.default_rng(7)
    add(catalog, unit(rng, 200))
    publishing.publish(folder / "index", catalog)
    catalog.close()
    shutil.copy(folder / "catalog.sqlite", tmp_path / "backup.sqlite")

    catalog = Catalog.open(folder)
    catalog.finish_run([f"/photos/{i:05d}.jpg" for i in range(150)], {})
    add(catalog, unit(rng, 150), first=200)
    publishing.publish(folder / "index", catalog)
    newest = max(int(ids.max()) for ids, _ in catalog.vectors())
    catalog.close()

    for side in ("-wal", "-shm"):
        (folder / f"catalog.sqlite{side}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.sqlite", folder / "catalog.sqlite")  # the restore
    catalog = Catalog.open(folder)
    assert publishing.unusable(folder / "index", catalog)
    searcher = refreshed(None, folder / "index", catalog)
    assert searcher.base is None and len(searcher) == 200
    for q in unit(rng, 20):
        scores, ids = searcher.search(q, 10)
        assert ids[0].tolist() == brute_force(catalog, q, 10)

    # The indexer's order: ids first, then rows, then the index it finds stale.
    publishing.reserve_ids(folder / "index", catalog)
    add(catalog, unit(rng, 150), first=1000)
    fresh = set(catalog.photos(list(range(1, 2000))))
    assert min(fresh - set(range(1, 201))) > newest  # no id the newer index held
    assert publishing.stale(folder / "index", catalog)
    generation = publishing.publish(folder / "index", catalog)
    assert not publishing.unusable(folder / "index", catalog)
    searcher = refreshed(searcher, folder / "index", catalog)
    assert searcher.base is not None and searcher.base.generation == generation
    for q in unit(rng, 5):
        assert searcher.search(q, 10)[1][0].tolist() == brute_force(catalog, q, 10)


def test_a_rewound_catalog_is_noticed_by_a_running_searcher(new_catalog):  # noqa: F811
    """The same catalog with another stamp (a restore while a searcher runs): the searcher
    reopens rather than applying changes to an index of another past. Ids reserved above an
    index's largest are never given, in SQLite and PostgreSQL."""
    folder, catalog = new_catalog()
    rng = np.random.default_rng(8)
    add(catalog, unit(rng, 50))
    publishing.publish(folder / "index", catalog)
    searcher = refreshed(None, folder / "index", catalog)
    assert searcher.base is not None
    catalog.stamp_index("another past")
    reopened = refreshed(searcher, folder / "index", catalog)
    assert reopened is not searcher and reopened.base is None and len(reopened) == 50

    catalog.reserve_ids(10_000)
    catalog.store([Record("/photos/new.jpg", 1, 1, "e" * 64, embedding=unit(rng, 1)[0].tobytes())])
    assert catalog.ids_of("e" * 64)[0] > 10_000


def photos(root: Path, n: int, first: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + n):
        photo(96, 64, 100 + i).save(root / f"p{i:03d}.png")
    return root


def sql(library: Path, statement: str, *args) -> None:
    with sqlite3.connect(library / "catalog.sqlite") as db:
        db.execute(statement, args)
    db.close()


def test_damaged_rows_are_left_out_named_and_made_again(tiny, tmp_path):
    root, library = photos(tmp_path / "photos", 6), tmp_path / "lib"
    Indexer(library=library, model=str(tiny)).run([root])
    before = {h.path: h.score for h in Library.open(library).search("cat", k=10, exact=True)}
    nan = np.full(len(next(iter(Catalog.open(library).vectors()))[1][0]), np.nan, np.float32)
    sql(library, "UPDATE photos SET embedding = ? WHERE path LIKE '%p000.png'", nan.tobytes())
    sql(library, "UPDATE photos SET embedding = x'00112233' WHERE path LIKE '%p001.png'")
    # 16 bytes of a hash flipped: no longer text a database can decode
    sql(
        library,
        "UPDATE photos SET sha256 = CAST(x'" + "ff" * 16 + "' || substr(sha256, 17) "
        "AS TEXT) WHERE path LIKE '%p002.png'",
    )

    checked = cli("indexer", "--check", "--library", library)
    assert checked.returncode == 1, checked.stderr
    named = {Path(line.split("\t")[0]).name for line in checked.stdout.decode().splitlines()}
    assert named == {"p000.png", "p001.png", "p002.png"}
    assert b"3 damaged row(s)" in checked.stderr and b"Traceback" not in checked.stderr

    shutil.rmtree(library / "index")  # searches read the catalog: the damaged rows' vectors
    lib = Library.open(library)  # are left out, and nothing fails on them
    hits = lib.search("cat", k=10, exact=True)
    assert {Path(h.path).name for h in hits} == {f"p{i:03d}.png" for i in range(6)} - {
        "p000.png",
        "p001.png",
    }
    assert all(np.isfinite(h.score) for h in hits)

    summary = Indexer(library=library, model=str(tiny)).run([root])
    assert sorted(Path(p).name for p, _ in summary.remade) == ["p000.png", "p001.png", "p002.png"]
    assert "3 damaged row(s) made again" in str(summary) and "not finite" in str(summary)
    assert summary.unchanged == 3 and summary.failed == 0
    after = {h.path: h.score for h in Library.open(library).search("cat", k=10, exact=True)}
    assert after == pytest.approx(before, abs=1e-5)
    assert cli("indexer", "--check", "--library", library).returncode == 0


def test_lost_pictures_are_named_and_made_again_without_embedding(tiny, tmp_path, monkeypatch):
    """Thumbnails and previews deleted or emptied (a clean-up tool, a restore that left them
    out): --check names those photos, the next run makes their pictures again from the photos,
    copying their vectors, not embedding them again."""
    root, library = photos(tmp_path / "photos", 4), tmp_path / "lib"
    Indexer(library=library, model=str(tiny)).run([root])
    made = [p for kind in ("thumbs", "previews") for p in (library / kind).rglob("*.*")]
    pictures = {p: p.read_bytes() for p in made}
    vectors = {r.path: r.embedding for r in rows(library).values()}
    shutil.rmtree(library / "thumbs")
    lost = sorted(p for p in pictures if p.parent.parent.name == "previews")[0]
    lost.write_bytes(b"")  # emptied
    checked = cli("indexer", "--check", "--library", library)
    assert checked.returncode == 1 and b"4 damaged row(s)" in checked.stderr
    assert checked.stdout.decode().count("its thumbnail or preview is missing or empty") == 4

    embedded = []
    monkeypatch.setattr("indexer.embed.Embedder.embed", lambda self, b: embedded.extend(b))
    summary = Indexer(library=library, model=str(tiny)).run([root])
    assert len(summary.remade) == 4 and summary.failed == 0
    assert not [d for d in embedded if d.pixels is not None], "no photo embedded again"
    assert {p: p.read_bytes() for p in pictures} == pictures
    assert {r.path: r.embedding for r in rows(library).values()} == vectors
    assert cli("indexer", "--check", "--library", library).returncode == 0


def test_a_run_reports_only_rows_it_can_read_back(tiny, tmp_path):
    """The WAL file deleted while a searcher holds the catalog (a sync or clean-up tool): what
    the run said it added is still there once the searcher closes."""
    root, library = photos(tmp_path / "photos", 3), tmp_path / "lib"
    Indexer(library=library, model=str(tiny)).run([root])
    searcher = Library.open(library)
    assert len(searcher.search("cat", k=10)) == 3  # holds the catalog open, read-only
    photos(root, 6, first=3)

    def progress(done, total):
        wal = library / "catalog.sqlite-wal"
        if done == 3 and wal.exists():
            wal.unlink()

    summary = Indexer(library=library, model=str(tiny), batch_size=3).run([root], progress=progress)
    assert summary.added == 6
    searcher.catalog.close()
    assert Catalog.open(library).vector_count() == 9


def test_a_searcher_on_a_read_only_catalog_leaves_nothing_that_blocks_a_writer(tiny, tmp_path):
    if not AS_USER and os.geteuid() == 0:
        pytest.skip("needs a user that file modes apply to")
    root, library = photos(tmp_path / "photos", 2), tmp_path / "lib"
    assert cli("indexer", root, "--library", library, "--model", tiny).returncode == 0
    assert not (library / "catalog.sqlite-shm").exists()  # the indexer, gone, left none
    (library / "catalog.sqlite").chmod(0o444)
    assert cli("search", "cat", "--library", library).returncode == 0
    (library / "catalog.sqlite").chmod(0o644)
    photos(root, 1, first=2)
    again = cli("indexer", root, "--library", library)
    assert again.returncode == 0, again.stderr
    assert b"1 added" in again.stdout


def test_a_folder_typed_in_either_unicode_form_finds_the_other(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    catalog = Catalog.open(folder)
    catalog.set_model(Model("tiny", "f" * 16, 32))
    add(catalog, unit(np.random.default_rng(9), 2), folder="/photos/Ko\u0308ln")  # NFD, as macOS
    assert len(catalog.passing(folder="K\u00f6ln")) == 2  # typed in NFC
    assert len(catalog.passing(folder="/photos/K\u00f6ln")) == 2
    assert len(catalog.passing(folder="\x00")) == 0


def test_a_damaged_catalog_says_so_rather_than_sending_to_the_hub(tiny, tmp_path):
    root, library = photos(tmp_path / "photos", 1), tmp_path / "lib"
    assert cli("indexer", root, "--library", library, "--model", tiny).returncode == 0
    data = bytearray((library / "catalog.sqlite").read_bytes())
    data[:100] = os.urandom(100)  # its header gone
    (library / "catalog.sqlite").write_bytes(bytes(data))
    result = cli("indexer", root, "--library", library)  # no --model: the library's
    err = result.stderr.decode()
    assert result.returncode == 1 and len(err.strip().splitlines()) == 1, err
    assert "is damaged: move it aside" in err and "download" not in err


def test_postgresql_stopped_mid_run_is_one_line_and_the_rerun_finishes(tiny, tmp_path):
    from tests.conftest import PostgresServer

    server = PostgresServer()
    root, library = photos(tmp_path / "photos", 6), tmp_path / "lib"
    indexer = Indexer(library=library, model=str(tiny), catalog_url=server.url, batch_size=2)
    try:
        with pytest.raises(CatalogError) as stopped:  # what altclip-index prints, in one line
            indexer.run([root], progress=lambda done, total: server.stop("immediate"))
        assert "\n" not in str(stopped.value)
        assert "is the PostgreSQL server running" in str(stopped.value)
        server.start()
        summary = indexer.run([root])
        assert summary.added + summary.unchanged == 6 and summary.failed == 0
        assert Catalog.open(library, server.url).vector_count() == 6
    finally:
        server.stop()
        server.remove()


def test_a_catalog_whose_driver_is_not_installed_is_one_line(tmp_path):
    """ "any SQLAlchemy database": one whose driver is missing says which package to install."""
    url = "mysql://someone@localhost/photos"
    for tool, args in (("search", ["red"]), ("indexer", [str(tmp_path)])):
        done = cli(tool, *args, "--library", tmp_path / "lib", "--catalog", url)
        assert done.returncode == 1 and done.stderr.decode() == (
            f"altclip-{'index' if tool == 'indexer' else tool}: cannot open the catalog {url}: "
            "its database driver MySQLdb is not installed: pip install mysqlclient\n"
        )
