"""The filter for photos with text (issue 29): `Library.search(with_text=True)`, `altclip-search
--with-text` and the page's switch keep the photos whose words were read, not those found by
their file or folder name alone; in SQLite and PostgreSQL, for text and picture queries, and on
a library with no words at all (nothing passes; no error). Photos with words are drawn and read
with the real PP-OCR weights, as tests/test_words.py does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("onnxruntime")
from indexer import Indexer  # noqa: E402
from search import Library, SearchError  # noqa: E402
from search.catalog import Catalog, Photo  # noqa: E402
from search.cli import main as search_main  # noqa: E402
from search.filters import has_text  # noqa: E402
from tests import test_words  # noqa: E402
from tests.conftest import new_database  # noqa: E402
from tests.test_ui import LOCALES, WORDS, app, search, texts, tiles  # noqa: E402

# test_words' photos, made and read once more for this module: three signs, two photos
# without words and beach/sunset.jpg
photos, library = test_words.photos, test_words.library
WITH_TEXT = set(test_words.SIGNS)  # receipt.jpg, cafe.jpg, station.jpg
PLAIN = {"plain-0.jpg", "plain-1.jpg", "sunset.jpg"}  # sunset.jpg: found by its folder, beach
KEPT = select(Photo.id).where(has_text())  # the filter alone


@pytest.fixture(scope="module")
def wordless(photos, tiny, tmp_path_factory) -> Path:
    """The same photos, indexed with --no-words: no photo's words were read."""
    folder = tmp_path_factory.mktemp("wordless-lib")
    Indexer(library=folder, model=str(tiny), words=False).run([photos])
    return folder


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


def names(hits) -> set[str]:
    return {Path(h.path).name for h in hits}


def searched(lib: Library, photos: Path, **filters) -> dict[str, set[str]]:
    """What a text query, a picture and "more like this" (the receipt's) each find."""
    receipt = next(h.id for h in lib.search("a photo", k=10) if h.path.endswith("receipt.jpg"))
    return {
        "text": names(lib.search("a photo", k=10, **filters)),
        "picture": names(lib.search(image=photos / "plain-0.jpg", k=10, **filters)),
        "like": names(lib.search(like=receipt, k=10, **filters)),
    }


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


def test_only_photos_whose_words_were_read(library, photos):
    lib = Library.open(library)
    everything = searched(lib, photos)
    assert everything["text"] == WITH_TEXT | PLAIN
    assert searched(lib, photos, with_text=True) == {
        "text": WITH_TEXT,
        "picture": WITH_TEXT,  # a picture query too
        "like": WITH_TEXT - {"receipt.jpg"},  # the photo asked about is left out
    }
    for off in (False, None):
        assert searched(lib, photos, with_text=off) == everything, "no filter"


def test_a_name_alone_is_not_text(library, photos):
    """sunset.jpg is found by its folder's name (beach), a line without a box: no text."""
    lib = Library.open(library)
    assert "sunset.jpg" in names(h for h in lib.search("beach", k=3) if h.words is not None)
    assert "sunset.jpg" not in names(lib.search("beach", k=10, with_text=True))
    assert lib.search("beach", k=10, with_text=True, folder=str(photos / "beach")) == []
    found = lib.search("发票号码", k=3, with_text=True)
    assert Path(found[0].path).name == "receipt.jpg" and found[0].words is not None


def test_the_filter_mixes_with_the_others(library, photos):
    lib = Library.open(library)
    assert names(lib.search("a photo", k=10, with_text=True, kinds=["jpg"])) == WITH_TEXT
    assert lib.search("a photo", k=10, with_text=True, kinds=["png"]) == []
    assert lib.search("a photo", k=10, with_text=True, before="2000-01-01") == []
    with pytest.raises(SearchError, match="with_text is True or False"):
        lib.search("a photo", with_text="yes")


def test_a_library_without_words_has_no_photo_with_text(wordless, photos):
    lib = Library.open(wordless)
    assert len(lib.search("a photo", k=10)) == 6
    assert lib.search("a photo", k=10, with_text=True) == []
    assert lib.search(image=photos / "plain-0.jpg", k=10, with_text=True) == []


def test_postgresql(pg_library, photos):
    lib = Library.open(*pg_library)
    assert names(lib.search("a photo", k=10)) == WITH_TEXT | PLAIN
    assert names(lib.search("a photo", k=10, with_text=True)) == WITH_TEXT
    assert names(lib.search(image=photos / "plain-0.jpg", k=10, with_text=True)) == WITH_TEXT
    assert "sunset.jpg" not in names(lib.search("beach", k=10, with_text=True))


def test_the_command(library, wordless, capsys):
    assert search_main(["a photo", "--library", str(library), "--with-text", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {Path(r["path"]).name for r in rows} == WITH_TEXT
    assert set(rows[0]) == {"path", "score", "width", "height", "taken_at", "match", "words"}
    assert search_main(["a photo", "--library", str(wordless), "--with-text"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "--with-text leaves only the photos whose words were read" in err
    with pytest.raises(SystemExit) as refused:
        search_main(["--duplicates", "--library", str(library), "--with-text"])
    assert refused.value.code == 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page(monkeypatch, library, wordless, lang):
    words = WORDS[lang]
    at = search(app(monkeypatch, library, locale=LOCALES[lang]), "a photo")
    assert {name for _, name in tiles(at)} == WITH_TEXT | PLAIN
    switch = at.toggle(key="with_text")
    assert switch.label == words["with_text"] and switch.value is False
    switch.set_value(True).run()
    assert not at.exception and {name for _, name in tiles(at)} == WITH_TEXT
    assert words["chip_with_text"] in texts(at)
    at.button(key="remove-with_text").click().run()  # the chip's ✕
    assert at.toggle(key="with_text").value is False and len(tiles(at)) == 6
    empty = search(app(monkeypatch, wordless, locale=LOCALES[lang]), "a photo")
    empty.toggle(key="with_text").set_value(True).run()
    assert not empty.exception and not empty.warning and not tiles(empty)
    assert [i.value for i in empty.info] == [words["no_match"]]
