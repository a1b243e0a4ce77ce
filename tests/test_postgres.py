"""The catalog in a real PostgreSQL server on loopback (Debian's postgresql, from .ci/run)."""

from __future__ import annotations

from indexer import Indexer
from search import Library
from tests.photos import GOOD, make_photos


def test_postgres_catalog_matches_sqlite(postgres_url, tiny, tmp_path):
    root = make_photos(tmp_path / "photos")
    Indexer(library=tmp_path / "pg", model=str(tiny), catalog_url=postgres_url).run([root])
    Indexer(library=tmp_path / "sqlite", model=str(tiny)).run([root])
    again = Indexer(library=tmp_path / "pg", model=str(tiny), catalog_url=postgres_url).run([root])
    assert again.unchanged == GOOD  # every path, the non-UTF-8 one too, round-trips
    pg = Library.open(tmp_path / "pg", postgres_url).search("海边的日落", k=GOOD)
    lite = Library.open(tmp_path / "sqlite").search("海边的日落", k=GOOD)
    assert [(h.path, round(h.score, 5)) for h in pg] == [(h.path, round(h.score, 5)) for h in lite]
