"""Parquet shards (indexer/exchange.py) without Ray: an export imports into a library equal to the
local indexer's, twice without change, into PostgreSQL too; another model's shards, shards
missing a column and a missing pyarrow are each refused in one line."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from altclip_core import hub
from indexer import Indexer, IndexerError
from indexer.cli import main as index_main
from search import catalog
from search.catalog import Catalog, Photo
from tests.conftest import new_database
from tests.photos import BAD, GOOD, make_hostile, make_photos

pa = pytest.importorskip("pyarrow", reason="pip install pyarrow (ray[data], in the dev extra)")
pq = pytest.importorskip("pyarrow.parquet")
from indexer.exchange import import_shards, model_of, shard_files  # noqa: E402


def state(library: Path, url: str | None = None) -> dict:
    """Per path: hash, status, reason and vector bytes."""
    engine = catalog.connect(catalog.catalog_url(library, url))
    with Session(engine) as s:
        rows = s.scalars(select(Photo)).all()
        found = {r.path: (r.sha256, r.status, r.error, r.embedding) for r in rows}
    engine.dispose()
    return found


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for path, (sha, status, error, vector) in want.items():
        assert got[path][:3] == (sha, status, error), path
        if vector is not None:
            a, b = np.frombuffer(got[path][3], np.float32), np.frombuffer(vector, np.float32)
            assert np.abs(a - b).max() <= 1e-6, path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = make_photos(tmp_path_factory.mktemp("photos") / "pictures")
    make_hostile(root / "hostile")
    return root


@pytest.fixture(scope="module")
def local(photos, tiny, tmp_path_factory):
    """The folder indexed by the local indexer: what a round trip (or --ray) must reproduce."""
    library = tmp_path_factory.mktemp("local")
    Indexer(library=library, model=str(tiny), max_megapixels=4, batch_size=4).run([photos])
    return library


@pytest.fixture(scope="module")
def exported(photos, tiny, local, tmp_path_factory):
    """(shards folder, the local library of the same photos)."""
    shards = tmp_path_factory.mktemp("shards")
    exporter = Indexer(library=local, model=str(tiny), max_megapixels=4, shard_rows=8)
    summary = exporter.export([photos], shards)
    assert (summary.added, summary.failed) == (GOOD, BAD)
    assert len(list(shards.glob("*.parquet"))) == 3  # 20 rows, 8 a shard
    again = exporter.export([photos], shards)  # a rerun resumes: failed files are tried again
    assert (again.added, again.unchanged, again.failed) == (0, GOOD, BAD)
    assert len(list(shards.glob("*.parquet"))) == 3  # failing as before, they are there already
    return shards, local


def test_import_equals_the_local_indexer_and_twice_changes_nothing(exported, tmp_path):
    shards, local = exported
    library = tmp_path / "lib"
    summary = import_shards(library, shards)
    assert (summary.added, summary.failed) == (GOOD, BAD)
    assert_same(state(library), state(local))
    assert Catalog.open(library).model() == Catalog.open(local).model()
    generation = Catalog.open(library).generation()
    again = import_shards(library, shards)
    assert (again.added, again.updated, again.failed) == (0, 0, 0)
    assert Catalog.open(library).generation() == generation
    assert_same(state(library), state(local))


def test_import_into_postgresql(exported, postgres_url, tmp_path):
    shards, local = exported
    url = new_database(postgres_url)
    assert import_shards(tmp_path / "pg", shards, url).added == GOOD
    assert_same(state(tmp_path / "pg", url), state(local))


def test_another_models_shards_are_refused(exported, tiny, tmp_path, capsys):
    shards, local = exported
    other = tmp_path / "other"
    other.mkdir()
    for part in shards.glob("*.parquet"):
        table = pq.read_table(part)
        fingerprint = pa.array(["0123456789abcdef"] * len(table), pa.string())
        table = table.set_column(
            table.schema.get_field_index("model_fingerprint"), "model_fingerprint", fingerprint
        )
        pq.write_table(table, other / part.name)
    library = tmp_path / "lib"
    import_shards(library, shards)
    before = state(library)
    assert index_main(["--import", str(other), "--library", str(library)]) == 1
    err = capsys.readouterr().err
    assert "another model" in err and len(err.strip().splitlines()) == 1
    assert state(library) == before
    with pytest.raises(IndexerError, match="another model"):  # a new library: the named model's
        import_shards(tmp_path / "new", other, model=str(tiny))


def test_shards_of_the_old_fingerprint_are_the_same_model(exported, tiny, photos, tmp_path):
    """Shards and libraries recorded before fingerprints read every byte (each file's size,
    first and last MB) name the same model as new ones: an import takes either, a new library
    records the new one, an export resumed keeps its shards' own."""
    shards, _ = exported
    old = tmp_path / "old"
    old.mkdir()
    for part in shards.glob("*.parquet"):
        table = pq.read_table(part)
        sampled = pa.array([hub._sampled(tiny)] * len(table), pa.string())
        column = table.schema.get_field_index("model_fingerprint")
        pq.write_table(table.set_column(column, "model_fingerprint", sampled), old / part.name)
    library = tmp_path / "lib"
    import_shards(library, shards)
    assert import_shards(library, old).unchanged == GOOD + BAD
    import_shards(tmp_path / "new", old, model=str(tiny))
    assert Catalog.open(tmp_path / "new").model().fingerprint == hub.fingerprint(tiny)
    more = tmp_path / "more"
    shutil.copytree(photos / "2023", more)
    exporter = Indexer(library=tmp_path / "x", model=str(tiny), max_megapixels=4)
    assert exporter.export([photos, more], old).added == 3
    assert model_of(shard_files(old))[0] == hub._sampled(tiny)  # one model: importable


def test_unusable_rows_are_failures_not_a_broken_library(exported, tmp_path):
    """Any tool may write shards: a row whose sha256 could name a path outside the library, or
    whose vector is too short, not finite or not of length 1, is recorded as failed with the
    reason (the odd rows first: a new library takes the common length); the rest import, and
    the library searches."""
    from search import Library

    shards, _ = exported
    table = pa.concat_tables(pq.read_table(part) for part in sorted(shards.glob("*.parquet")))
    rows = table.to_pylist()
    good = [r for r in rows if r["vector"] is not None]
    bad = {
        "short": dict(good[1], vector=good[1]["vector"][:-1]),
        "sha": dict(good[0], sha256="../../../escape"),
        "nan": dict(good[2], vector=[float("nan")] * len(good[2]["vector"])),
        "long": dict(good[3], vector=[2 * x for x in good[3]["vector"]]),
    }
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    crafted_rows = [*bad.values(), *(r for r in rows if r["path"] not in by_path(bad))]
    pq.write_table(pa.Table.from_pylist(crafted_rows, table.schema), crafted / "part.parquet")
    library = tmp_path / "lib"
    import_shards(library, crafted)
    got = state(library)
    for row in bad.values():
        sha, status, error, vector = got[row["path"].decode()]
        assert status == catalog.ERROR and vector is None and "imported shard" in error
    assert not list(tmp_path.glob("escape*")) and not list(library.parent.glob("escape*"))
    assert Library.open(library).search("a dog", k=3)


def by_path(rows: dict) -> set[bytes]:
    return {r["path"] for r in rows.values()}


def test_a_shard_with_a_relative_path_is_refused(exported, tmp_path, capsys):
    """A path that is not absolute names no file (any folder, with `..`): the import refuses
    the shards in one line and writes nothing."""
    shards, _ = exported
    table = pq.read_table(sorted(shards.glob("*.parquet"))[0])
    rows = table.to_pylist()
    rows[0]["path"] = b"../../etc/passwd"
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    pq.write_table(pa.Table.from_pylist(rows, table.schema), crafted / "part.parquet")
    library = tmp_path / "lib"
    assert index_main(["--import", str(crafted), "--library", str(library)]) == 1
    assert "not absolute" in capsys.readouterr().err
    assert not (library / "catalog.sqlite").exists()


def test_a_shard_without_a_column_is_refused(exported, tmp_path):
    shards, _ = exported
    part = next(shards.glob("*.parquet"))
    broken = tmp_path / "broken"
    broken.mkdir()
    pq.write_table(pq.read_table(part).drop_columns(["sha256", "vector"]), broken / part.name)
    with pytest.raises(IndexerError, match="lacks sha256, vector"):
        import_shards(tmp_path / "lib", broken)
    with pytest.raises(IndexerError, match="no Parquet shards"):
        import_shards(tmp_path / "lib", tmp_path / "nowhere")


def test_import_without_pyarrow_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert index_main(["--import", str(tmp_path), "--library", str(tmp_path / "lib")]) == 1
    err = capsys.readouterr().err
    assert err == "altclip-index: this needs pyarrow: pip install 'altclip-search[parquet]'\n"
