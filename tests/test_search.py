"""The search API and CLI on a library indexed with the tiny random checkpoint."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

import altclip_core
from indexer import Indexer
from search import Library, SearchError, catalog
from search.catalog import CatalogError
from search.cli import main as search_main
from tests.photos import GOOD, make_photos


@pytest.fixture(scope="module")
def library(tmp_path_factory, tiny):
    root = make_photos(tmp_path_factory.mktemp("photos"))
    folder = tmp_path_factory.mktemp("lib")
    Indexer(library=folder, model=str(tiny), exact_decode=True).run([root])
    return folder, root


@pytest.fixture(scope="module")
def lib(library):
    return Library.open(library[0])


def brute_force(lib: Library, query: np.ndarray) -> list[tuple[str, float]]:
    ids, vectors = (np.concatenate(a) for a in zip(*lib.catalog.vectors(), strict=True))
    order = np.argsort(-(vectors @ query))
    return ids[order], (vectors @ query)[order]


def test_scores_are_cosines_computed_by_hand(lib, tiny):
    model = altclip_core.load(tiny, towers=("text",))
    for query in ["海边的日落", "sunset at the beach", "浜辺の夕日"]:
        hits = lib.search(query, k=5)
        q = model.embed_text([query])[0].numpy()
        ids, scores = brute_force(lib, q)
        assert [h.id for h in hits] == ids[:5].tolist()
        assert np.allclose([h.score for h in hits], scores[:5], atol=1e-5)


def test_image_query_finds_the_same_photo_first(lib, library):
    target = library[1] / "2023" / "summer" / "beach.jpg"
    hits = lib.search(image=target, k=3)
    assert hits[0].path == str(target) and hits[0].score == pytest.approx(1, abs=1e-4)
    mixed = lib.search("beach", image=target, k=3)
    assert len(mixed) == 3 and mixed[0].score <= 1 + 1e-6


def test_negative_and_filters(lib, library):
    root = library[1]
    plain = lib.search("a dog", k=GOOD)
    pushed = lib.search("a dog", negative="a cat", k=GOOD)
    assert {h.id for h in plain} == {h.id for h in pushed} and plain != pushed
    only_2023 = lib.search("a dog", folder="2023", k=GOOD)
    assert only_2023 and all("/2023/" in h.path for h in only_2023)
    assert len(lib.search("a dog", folder=str(root / "2024"), k=GOOD)) == GOOD - 3
    dated = lib.search("a dog", after="2023-06-01", before="2023-07-01", k=GOOD)
    assert [h.path for h in dated] == [str(root / "2023" / "rotated.JPG")]
    pngs = lib.search("a dog", kinds=["png"], k=GOOD)
    assert pngs and all(h.path.endswith(".png") for h in pngs)
    assert all(h.score >= 0.05 for h in lib.search("a dog", min_score=0.05, k=GOOD))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(text=""), "empty"),
        (dict(text=" \t\n "), "empty"),
        (dict(text="\x00\x07\x1b"), "empty"),
        (dict(text="x" * 100_000), "characters long"),
        (dict(), "give a text query"),
        (dict(text="dog", k=0), "k must be"),
        (dict(text="dog", after="last tuesday"), "not a date"),
    ],
)
def test_bad_queries_get_clear_errors(lib, kwargs, message):
    with pytest.raises(SearchError, match=message):
        lib.search(**kwargs)


def test_bad_image_query(lib, tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(SearchError, match="not an image"):
        lib.search(image=tmp_path / "notes.jpg")
    with pytest.raises(SearchError, match="No such file"):
        lib.search(image=tmp_path / "missing.jpg")


def test_control_characters_are_ignored(lib):
    assert [h.id for h in lib.search("a\x00 dog\x07")] == [h.id for h in lib.search("a  dog")]


def test_unknown_library_and_other_model(tmp_path, library, spm_path):
    with pytest.raises(CatalogError, match="altclip-index"):
        Library.open(tmp_path / "nowhere")

    copy = shutil.copytree(library[0], tmp_path / "copy")
    with sqlite3.connect(copy / "catalog.sqlite") as db:  # as if the model folder had changed
        db.execute("UPDATE model SET fingerprint = ?", ("0" * 16,))
    with pytest.raises(SearchError, match="--rebuild"):
        Library.open(copy).search("dog")


def test_sees_new_photos_after_refresh(tmp_path, tiny):
    from tests.test_parity import photo

    root = tmp_path / "photos"
    root.mkdir()
    photo(100, 100, 1).save(root / "a.jpg")
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([root])
    lib = Library.open(tmp_path / "lib")
    assert len(lib.search("dog")) == 1
    photo(100, 100, 2).save(root / "b.jpg")
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([root])
    assert len(lib.search("dog")) == 2
    assert lib.status().photos == 2 and lib.status().model == str(tiny)


def test_damaged_index_is_not_trusted(tmp_path, library):
    """A base whose vectors file lost its tail is never used: the searcher scores the catalog's
    vectors instead, with the same results, and writes nothing."""
    folder = tmp_path / "lib"
    shutil.copytree(library[0], folder)
    before = [(h.id, h.score) for h in Library.open(folder).search("dog", k=5)]
    (vectors,) = (folder / "index").glob("*.f32")
    data = bytearray(vectors.read_bytes())
    data[-100:] = bytes(100)
    vectors.write_bytes(bytes(data))
    listing = sorted((p.name, p.stat().st_mtime_ns) for p in (folder / "index").iterdir())
    lib = Library.open(folder)
    assert lib.refresh().base is None
    assert [(h.id, h.score) for h in lib.search("dog", k=5)] == before
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (folder / "index").iterdir()) == listing


def test_unopenable_catalog_is_one_line_without_password(tmp_path, capsys):
    with pytest.raises(CatalogError, match="check the URL") as e:
        catalog.connect("postgresql+psycopg://me:secret@127.0.0.1:1/photos")
    assert "secret" not in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "catalog.sqlite").write_bytes(b"not a database")
    assert search_main(["dog", "--library", str(tmp_path)]) == 1
    assert "move a damaged catalog.sqlite aside" in capsys.readouterr().err


def test_cli(library, capsys):
    assert search_main(["海边的日落", "--library", str(library[0]), "-k", "3", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and lines[0]["score"] >= lines[1]["score"] >= lines[2]["score"]
    assert search_main(["", "--library", str(library[0])]) == 1
    assert "empty" in capsys.readouterr().err
