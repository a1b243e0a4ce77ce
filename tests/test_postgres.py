"""The catalog in a real PostgreSQL server on loopback (Debian's postgresql, from .ci/run)."""

from __future__ import annotations

from pathlib import Path

from indexer import Indexer
from search import Library
from tests.conftest import new_database
from tests.photos import GOOD, make_photos


def test_postgres_catalog_matches_sqlite(postgres_url, tiny, tmp_path):
    postgres_url = new_database(postgres_url)  # its own: other tests write to the server too
    root = make_photos(tmp_path / "photos")
    Indexer(library=tmp_path / "pg", model=str(tiny), catalog_url=postgres_url).run([root])
    Indexer(library=tmp_path / "sqlite", model=str(tiny)).run([root])
    again = Indexer(library=tmp_path / "pg", model=str(tiny), catalog_url=postgres_url).run([root])
    assert again.unchanged == GOOD  # every path, the non-UTF-8 one too, round-trips
    pg, lite = Library.open(tmp_path / "pg", postgres_url), Library.open(tmp_path / "sqlite")
    ranked = [
        [(h.path, round(h.score, 5)) for h in x.search("海边的日落", k=GOOD)] for x in (pg, lite)
    ]
    assert ranked[0] == ranked[1]
    folders = [str(root), f"{root}/2023", f"{root}/2023/summer", f"{root}/2024"]
    assert pg.folders() == lite.folders() == folders  # cut in the database; a hex name in Python


def test_the_page_browses_a_postgresql_catalog(postgres_url, tiny, tmp_path, monkeypatch):
    """ALTCLIP_CATALOG points the page at the catalog, as README promises."""
    from streamlit.testing.v1 import AppTest

    from tests.test_ui import APP

    root = make_photos(tmp_path / "photos")
    library = tmp_path / "pg-page"
    url = new_database(postgres_url)
    Indexer(library=library, model=str(tiny), catalog_url=url).run([root])
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(library))
    monkeypatch.setenv("ALTCLIP_CATALOG", url)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input[0].input("海边的日落").run()
    assert not at.exception and at.sidebar.metric[0].value == str(GOOD)
    assert len([c for c in at.text if " · " in c.value]) == GOOD  # the grid's captions


def test_one_writer_per_catalog_whatever_the_folder(postgres_url, tiny, tmp_path):
    """Two library folders on one PostgreSQL catalog: while an indexer writes for one, another
    is refused in one line; once the first is killed (-9: the lock goes with its connection),
    the other runs."""
    import subprocess
    import sys

    import pytest

    from search.catalog import CatalogError

    root = make_photos(tmp_path / "photos")
    url = new_database(postgres_url)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout.readline().strip() == "writing"
        with pytest.raises(CatalogError, match="another altclip-index is writing to this catalog"):
            Indexer(library=tmp_path / "b", model=str(tiny), catalog_url=url).run([root])
    finally:
        holder.kill()
        holder.wait()
    assert Indexer(library=tmp_path / "b", model=str(tiny), catalog_url=url).run([root]).added


# Another indexer's hold on the catalog, for the test above.
HOLD = """
import sys, time
from search.database import one_writer
with one_writer(sys.argv[1]):
    print("writing", flush=True)
    time.sleep(120)
"""
ROOT = str(Path(__file__).resolve().parents[1])


def test_a_plans_range_reads_use_an_index_in_postgresql(postgres_url, tmp_path):
    """Paths are compared as bytes (COLLATE "C"), which the unique index on path, in the
    database's collation, cannot answer: without an index of their own every folder a plan
    reads was a scan of every row. A catalog made before that index gains it when opened."""
    from sqlalchemy import create_engine, text

    from search.catalog import Catalog

    url = new_database(postgres_url)
    Catalog.open(tmp_path / "lib", url)
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("DROP INDEX ix_photos_path_bytes"))  # as a catalog made before
    catalog = Catalog.open(tmp_path / "lib", url)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO photos (path, size, mtime_ns, sha256, status, offline, generation, "
                "indexed_at) SELECT '/p/f' || g || '/x.jpg', 1, 1, lpad(to_hex(g), 64, '0'), "
                "'ok', false, 1, 1 FROM generate_series(1, 20000) g"
            )
        )
        db.execute(text("ANALYZE photos"))
        plan = db.execute(
            text(
                """EXPLAIN SELECT path FROM photos WHERE path COLLATE "C" >= '/p/f5/' """
                """AND path COLLATE "C" < '/p/f50' ORDER BY path COLLATE "C" LIMIT 100"""
            )
        ).all()
    engine.dispose()
    assert "ix_photos_path_bytes" in " ".join(row[0] for row in plan)
    assert [p for p, _ in catalog.rows_under("/p/f5")] == ["/p/f5/x.jpg"]
