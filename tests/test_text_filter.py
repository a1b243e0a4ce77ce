"""The filter for photos with text (issue 29), as SQL: `search.filters.has_text` keeps the photos
whose words were read, not those found by their file or folder name alone, in SQLite and
PostgreSQL, through the index on word_lines.photo. Photos with words are drawn and read with
the real PP-OCR weights, as tests/test_words.py does."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("onnxruntime")
from indexer import Indexer  # noqa: E402
from search.catalog import Catalog, Photo  # noqa: E402
from search.filters import has_text  # noqa: E402
from tests import test_words  # noqa: E402
from tests.conftest import new_database  # noqa: E402

# test_words' photos, made and read once more for this module: three signs, two photos
# without words and beach/sunset.jpg
photos, library = test_words.photos, test_words.library
WITH_TEXT = set(test_words.SIGNS)  # receipt.jpg, cafe.jpg, station.jpg
KEPT = select(Photo.id).where(has_text())  # the filter alone


@pytest.fixture(scope="module")
def pg_library(photos, tiny, postgres_url, tmp_path_factory) -> tuple[Path, str]:
    """The photos indexed into a PostgreSQL database of their own: (folder, catalog URL)."""
    url = new_database(postgres_url)  # its own: other tests write to the server too
    folder = tmp_path_factory.mktemp("pg-text-lib")
    Indexer(library=folder, model=str(tiny), catalog_url=url).run([photos])
    return folder, url


def having_text(catalog: Catalog) -> set[str]:
    """The names of the photos has_text() keeps."""
    with catalog.engine.connect() as c:
        ids = c.execute(KEPT).scalars().all()
    return {Path(p.path).name for p in catalog.photos(list(ids)).values()}


def plan(catalog: Catalog, explain: str, *setup: str) -> str:
    """The database's plan for the photos has_text() keeps, as one line."""
    with catalog.engine.connect() as c:
        for statement in setup:
            c.exec_driver_sql(statement)
        sql = KEPT.compile(c, compile_kwargs={"literal_binds": True})
        return " ".join(str(row[-1]) for row in c.exec_driver_sql(f"{explain} {sql}"))


def test_the_condition_is_one_index_probe_per_photo(library):
    """has_text() is an EXISTS the index on word_lines.photo answers, not a scan of the lines."""
    catalog = Catalog.open(library)
    assert "USING INDEX ix_word_lines_photo" in plan(catalog, "EXPLAIN QUERY PLAN")
    assert having_text(catalog) == WITH_TEXT


def test_the_condition_in_postgresql(pg_library):
    catalog = Catalog.open(*pg_library)
    # a handful of rows, which a plain scan reads faster: the planner is told not to
    assert "ix_word_lines_photo" in plan(catalog, "EXPLAIN", "SET enable_seqscan = off")
    assert having_text(catalog) == WITH_TEXT
