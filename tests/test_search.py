"""The search API and CLI on a library indexed with the tiny random checkpoint."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import sqlite3
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

import altclip_core
from indexer import Indexer
from search import Library, NoLibrary, QueryTooLong, SearchError, Status, catalog
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
    return Library.open(library[0], int8=False)  # compared with the exact model below


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


def test_a_library_photo_by_path_is_left_out_as_its_bytes_are(lib, library):
    target = library[1] / "2023" / "summer" / "beach.jpg"
    hits = lib.search(image=target, k=3)
    assert str(target) not in [h.path for h in hits]
    assert [h.id for h in hits] == [h.id for h in lib.search(image=target.read_bytes(), k=3)]
    first = lib.search(image=altclip_core.open_image(target), k=1)[0]  # no bytes to compare
    assert first.path == str(target) and first.score == pytest.approx(1, abs=1e-4)


def test_a_picture_with_words_ranks_by_both(lib, library):
    """Text and picture together: every photo scored against the sum of the two vectors, so the
    picture changes the ranking the words alone give."""
    target = library[1] / "2023" / "summer" / "beach.jpg"
    words = lib.search("beach", k=GOOD)
    mixed = lib.search("beach", image=target, k=GOOD)
    both = lib.embed_text("beach") + lib.embed_image(target)
    ids, scores = brute_force(lib, both / np.linalg.norm(both))
    expected = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    assert len(mixed) == GOOD - 1 and all(h.score <= 1 + 1e-6 for h in mixed)  # itself left out
    assert [h.score for h in mixed] == pytest.approx([expected[h.id] for h in mixed], abs=1e-5)
    assert [h.id for h in mixed] != [h.id for h in words]  # the picture ranks too


def test_an_uploaded_library_photo_is_not_its_own_result(lib, library):
    """The bytes of a photo the library holds (an upload of it): every other photo, ranked as
    its stored vector ranks them; a copy with other bytes finds the photo first."""
    target = library[1] / "2023" / "summer" / "beach.jpg"
    hits = lib.search(image=target.read_bytes(), k=GOOD)
    assert str(target) not in [h.path for h in hits] and len(hits) == GOOD - 1
    stored = lib.catalog.vector_of(str(target))
    ids, scores = brute_force(lib, stored)
    assert [h.id for h in hits] == ids[1:].tolist()  # ids[0]: the photo itself
    assert np.allclose([h.score for h in hits], scores[1:], atol=1e-4)
    copy = io.BytesIO()
    Image.open(target).save(copy, "PNG")
    assert lib.search(image=copy.getvalue(), k=1)[0].path == str(target)


def test_more_like_this_from_the_stored_vector(library):
    lib = Library.open(library[0])  # new: no tower loaded
    target = lib.search("sunset", k=1)[0]
    hits = lib.search(like=target.id, k=GOOD)
    assert target.id not in [h.id for h in hits] and len(hits) == GOOD - 1
    ids, scores = brute_force(lib, lib.catalog.vector_of(target.id))
    assert [h.id for h in hits] == ids[1:].tolist()
    assert np.allclose([h.score for h in hits], scores[1:], atol=1e-5)
    assert "vision" not in lib.towers.loaded()  # no image was embedded
    assert [h.id for h in lib.search(like=target.id, folder="2024", k=3)] == [
        h.id for h in hits if "/2024/" in h.path
    ][:3]
    with pytest.raises(SearchError, match="no photo 999999"):
        lib.search(like=999_999)


def test_hits_say_what_the_viewer_shows(lib, library):
    hits = {h.path: h for h in lib.search("sunset", k=GOOD)}
    rotated = hits[str(library[1] / "2023" / "rotated.JPG")]
    assert rotated.taken_at == datetime(2023, 6, 15, 18, 30) == rotated.date
    assert rotated.size == (library[1] / "2023" / "rotated.JPG").stat().st_size
    assert (rotated.width, rotated.height) == (640, 480)  # upright: 480×640 turned by EXIF
    beach = hits[str(library[1] / "2023" / "summer" / "beach.jpg")]
    assert beach.taken_at is None and beach.date == beach.modified
    assert abs(beach.modified.timestamp() - Path(beach.path).stat().st_mtime) < 1e-3
    # A text query is measured by the captions, however small the library; an image query by a
    # background sample, which under 50 photos is too small to decide.
    assert all(isinstance(h.match, bool) for h in hits.values()) and hits
    assert all(h.match is None for h in lib.search(like=rotated.id, k=GOOD))
    assert Status(1, 0, "BAAI/AltCLIP", None).model_short == "AltCLIP"
    assert Status(1, 0, "/models/altclip-m18/", None).model_short == "altclip-m18"


def test_previews_are_screen_size_and_only_from_real_hashes(lib, library):
    for hit in lib.search("sunset", k=GOOD):
        preview = lib.preview(hit)
        with Image.open(preview) as image:
            assert max(image.size) <= 1600
            assert image.size[0] <= hit.width and image.size[1] <= hit.height  # never upscaled
    forged = dataclasses.replace(hit, sha256="../" + hit.sha256[3:])
    assert lib.preview(forged) is None and lib.thumbnail(forged) is None


def test_folders_are_the_librarys_own(lib, library):
    root = str(library[1])
    expected = [root, f"{root}/2023", f"{root}/2023/summer", f"{root}/2024"]
    assert lib.folders() == expected  # .hidden is not indexed


def test_query_cut_at_the_token_limit(lib):
    assert lib.query_cut("海边的日落") is None
    long = "，".join(f"第{i}张海边的日落" for i in range(180))  # 1 700 characters, > 512 tokens
    cut = lib.query_cut(long)
    assert cut and long.startswith(cut) and len(cut) < len(long)
    # what the model reads of the long query is exactly the cut
    assert np.allclose(lib.embed_text(long), lib.embed_text(cut), atol=1e-6)
    assert lib.query_cut(cut) is None  # it fits, and a few characters more do not
    assert lib.query_cut(long[: len(cut) + 4]) == cut


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
    assert lib.search("a dog", after=date(2023, 6, 1), before=date(2023, 7, 1), k=GOOD) == dated
    pngs = lib.search("a dog", kinds=["png"], k=GOOD)
    assert pngs and all(h.path.endswith(".png") for h in pngs)

    floor = plain[len(plain) // 2].score  # half the photos score below it
    kept = lib.search("a dog", min_score=floor, k=GOOD)
    assert kept and all(h.score >= floor for h in kept) and len(kept) < len(plain)
    assert kept == [h for h in plain if h.score >= floor]  # the same hits, the weak ones cut


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
        (dict(text="dog", before=20230601), "not a date"),
        (dict(text="dog", after="2024-01-01", before="2023-01-01"), "wrong way round"),
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
    big = Image.new("L", (11_000, 10_000))  # over the query limit: no indexer flag to raise
    with pytest.raises(SearchError) as said:
        lib.search(image=big)
    assert str(said.value) == (
        "the image cannot be read: 11000x10000 is 110 megapixels, over the limit of 100: "
        "use a smaller copy"
    )


def test_a_damaged_captions_file_is_one_line(tmp_path, library, tiny):
    """A model folder's captions.json that cannot be read stops text queries with one line that
    names it; image queries do not need it."""
    model = shutil.copytree(tiny, tmp_path / "model")
    (model / "captions.json").write_text('{"en": "a dog"}')
    copy = shutil.copytree(library[0], tmp_path / "copy")
    with sqlite3.connect(copy / "catalog.sqlite") as db:
        db.execute("UPDATE model SET name = ?", (str(model),))
    lib = Library.open(copy)
    with pytest.raises(SearchError, match=r"captions.json should hold .*; fix or remove it"):
        lib.search("dog")
    ids, _ = next(lib.catalog.vectors())
    assert lib.search(like=int(ids[0]), k=3)


def test_the_captions_are_embedded_once_per_model_and_kept_on_disk(library, monkeypatch, tmp_path):
    """The generic captions a text query is measured by are embedded once per language, kept
    under the cache folder, and read back by the next process without a text tower; a file that
    is damaged, or holds another shape, is embedded again."""
    monkeypatch.setenv("ALTCLIP_CACHE", str(tmp_path))
    first = Library.open(library[0])
    ids = [h.id for h in first.search("dog", k=3)]
    expected = first.yardsticks("dog", ids)
    kept = list((tmp_path / "captions").glob("*.npy"))  # en only: "dog" is English
    shapes = [np.load(path).shape for path in kept]
    fresh = Library.open(library[0])  # as the next process: no tower loaded
    assert len(kept) == 1 and np.array_equal(fresh.yardsticks("dog", ids), expected)
    assert not fresh.towers.loaded()  # read back, not embedded again
    for damage in (b"not an array", np.zeros((3, 2), np.float32)):
        for path in kept:
            if isinstance(damage, bytes):
                path.write_bytes(damage)
            else:
                np.save(path, damage)
        assert np.allclose(Library.open(library[0]).yardsticks("dog", ids), expected)
        assert [np.load(path).shape for path in kept] == shapes


def test_a_numbers_rivals_are_embedded_together(library, monkeypatch):
    """A number's rivals ("one dogs", "three dogs") are embedded in one pass, each as it would
    be alone; a text embedded lately is not embedded again, until the kept texts are dropped; a
    text without a number has none."""
    lib = Library.open(library[0], int8=False)  # its own: no text embedded by another test
    ids = np.array([h.id for h in lib.search("dog", k=3)])
    tower = lib.towers.text
    alone = tower.embed_text(["one dogs"]).numpy(), tower.embed_text(["three dogs"]).numpy()
    passes = []
    embed = tower.embed_text
    monkeypatch.setattr(tower, "embed_text", lambda texts: passes.append(texts) or embed(texts))
    rivals = lib.rivals("two dogs", ids)
    assert passes == [["one dogs", "three dogs"]]
    stored = np.stack([lib.catalog.vector_of(int(i)) for i in ids])
    expected = np.maximum(stored @ alone[0][0], stored @ alone[1][0])
    assert np.allclose(rivals, expected, atol=1e-5)
    lib.rivals("two dogs", ids)
    assert len(passes) == 1
    lib.towers.forget_texts()
    assert np.array_equal(lib.rivals("two dogs", ids), rivals) and len(passes) == 2
    assert lib.rivals("dogs", ids) is None


def test_odd_arguments_are_one_line(lib):
    with pytest.raises(SearchError, match="no photo True"):
        lib.search(like=True)
    photo = lib.search("dog", k=1)[0].id
    assert lib.search(like=np.int64(photo), k=3) == lib.search(like=photo, k=3)
    with pytest.raises(SearchError, match="whole numbers"):
        lib.yardsticks("dog", [photo + 0.5])
    with pytest.raises(SearchError, match="min_score is a number"):
        lib.search("dog", min_score="0.2")
    with pytest.raises(SearchError, match="kinds is a list"):
        lib.search("dog", kinds="jpg")
    for threshold in (float("nan"), 2, -1, 0):
        with pytest.raises(SearchError, match="threshold is a cosine"):
            lib.duplicates(threshold)


def test_control_characters_are_ignored(lib):
    assert [h.id for h in lib.search("a\x00 dog\x07")] == [h.id for h in lib.search("a  dog")]


def test_unknown_library_and_other_model(tmp_path, library, spm_path):
    with pytest.raises(NoLibrary, match="altclip-index"):
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
    with pytest.raises(CatalogError, match="is the PostgreSQL server running") as e:
        catalog.connect("postgresql+psycopg://me:secret@127.0.0.1:1/photos")
    assert "secret" not in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "catalog.sqlite").write_bytes(b"not a database")
    assert search_main(["dog", "--library", str(tmp_path)]) == 1
    assert "is damaged: move it aside" in capsys.readouterr().err


def test_cli(library, capsys):
    assert search_main(["海边的日落", "--library", str(library[0]), "-k", "3", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and lines[0]["score"] >= lines[1]["score"] >= lines[2]["score"]
    assert search_main(["", "--library", str(library[0])]) == 1
    assert "empty" in capsys.readouterr().err


def test_too_long_query_says_by_how_much(lib):
    with pytest.raises(QueryTooLong, match="5000 characters long; keep it under 2000") as e:
        lib.search("x" * 5000)
    assert (e.value.length, e.value.limit) == (5000, 2000)
    with pytest.raises(QueryTooLong, match="^the negative is 3000 characters long"):
        lib.search("dog", negative="x" * 3000)
    for empty in ("", "   "):
        with pytest.raises(SearchError, match="^the negative is empty"):
            lib.search("dog", negative=empty)


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow reads no AVIF")
def test_avif_query_images(lib, library):
    """AVIF where Pillow reads it (HEIC/HEIF where pillow-heif is installed): a photo saved as
    AVIF finds the photo it was saved from."""
    from search import image_types

    assert "avif" in image_types()
    target = library[1] / "2023" / "summer" / "beach.jpg"
    avif = io.BytesIO()
    Image.open(target).save(avif, "AVIF", quality=90)
    assert lib.search(image=avif.getvalue(), k=1)[0].path == str(target)


def test_dates_in_the_query_filter_by_capture_date(photo_library):
    """「2023年夏天」 keeps the one photo taken in June 2023 (rotated.JPG, from its EXIF); the
    rest of the query is what gets embedded; dates given explicitly win; dates=False ignores it."""
    lib = Library.open(photo_library)
    everything = lib.search("a dog", k=50)
    assert len(everything) > 1
    summer = lib.search("2023年夏天 a dog", k=50)
    assert [Path(h.path).name for h in summer] == ["rotated.JPG"]
    assert summer[0].score == pytest.approx(
        lib.search("a dog", k=50, after="2023-06-01", before="2023-09-01")[0].score
    )
    assert len(lib.search("dogs from last summer", k=50, after="2000-01-01")) == len(everything)
    assert len(lib.search("2023年夏天 a dog", k=50, dates=False)) == len(everything)
    south = Library.open(photo_library, hemisphere="south")  # June is winter there
    assert [Path(h.path).name for h in south.search("2023年冬天 a dog", k=50)] == ["rotated.JPG"]
    assert "rotated.JPG" not in {Path(h.path).name for h in south.search("2023年夏天 a dog")}
    with pytest.raises(SearchError, match="north"):
        Library.open(photo_library, hemisphere="up")


def test_the_cli_says_which_dates_it_understood(photo_library, capsys):
    """altclip-search names the dates it read in the query, on stderr, and filters by them;
    --no-dates reads them as words."""
    args = ["2023年夏天 a dog", "--library", str(photo_library), "--json"]
    assert search_main(args) == 0
    out, err = capsys.readouterr()
    assert err == (
        "altclip-search: “2023年夏天”: photos taken 2023-06-01 to 2023-08-31"
        " (--no-dates reads them as words)\n"
    )
    assert [Path(json.loads(line)["path"]).name for line in out.splitlines()] == ["rotated.JPG"]
    assert search_main([*args, "--no-dates"]) == 0
    out, err = capsys.readouterr()
    assert not err and len(out.splitlines()) > 1
    assert search_main(["cats until 2020", *args[1:]]) == 0
    assert "“until 2020”: photos taken until 2020-12-31" in capsys.readouterr().err
    assert search_main(["a dog 2019年和2023年", *args[1:]]) == 0
    err = capsys.readouterr().err
    assert "“2019年”: photos taken 2019-01-01 to 2019-12-31; “2023年”: photos" in err


def test_query_vector_is_what_search_scores(photo_library):
    """query_vector gives the vector search ranks by: date phrases left out, parts summed."""
    lib = Library.open(photo_library)
    hits = lib.search("a dog", k=3, exact=True)
    q = lib.query_vector("2023年夏天 a dog")
    assert np.allclose(q, lib.query_vector("a dog")) and np.isclose(np.linalg.norm(q), 1)
    stored = lib.catalog.vector_of(hits[0].id)
    assert [h.score for h in hits] == pytest.approx(
        [float(q @ lib.catalog.vector_of(h.id)) for h in hits], abs=1e-5
    )
    assert np.allclose(lib.query_vector(like=hits[0].id), stored / np.linalg.norm(stored))
    with pytest.raises(SearchError, match="give a text query"):
        lib.query_vector()


def test_int8_text_queries_check_themselves(photo_library, monkeypatch):
    """With int8, text queries use the int8 text tower once it agrees with the exact one on the
    probe sentences; a tower that does not (here: any, with the bar above 1) is not used."""
    import altclip_core
    from altclip_core import cache, kernels, prepared

    exact = Library.open(photo_library, int8=False).search("a dog", k=50)
    lib = Library.open(photo_library, int8=True)
    int8 = lib.search("a dog", k=50)
    assert lib.int8_cosine >= cache.INT8_MIN_COSINE
    assert lib.towers.text.kernels["text"] == prepared.KERNEL
    assert {h.id for h in int8} == {h.id for h in exact}
    assert max(abs(a.score - b.score) for a, b in zip(exact, int8, strict=True)) < 0.05
    assert any(a.score != b.score for a, b in zip(exact, int8, strict=True))

    # The verdict is kept for this model and machine: a later open loads only the tower it chose.
    loads = []
    load = altclip_core.load
    monkeypatch.setattr(altclip_core, "load", lambda *a, **kw: loads.append(kw) or load(*a, **kw))
    monkeypatch.setattr(cache, "INT8_MIN_COSINE", 1.01)
    strict = Library.open(photo_library, int8=True)
    assert [h.score for h in strict.search("a dog", k=50)] == [h.score for h in exact]
    assert strict.int8_cosine < 1.01 and strict.towers.text.kernels["text"] in kernels.EXACT
    assert strict.int8_cosine == lib.int8_cosine and [kw.get("quantize") for kw in loads] == [None]
    assert search_main(["a dog", "--library", str(photo_library), "--int8", "--json"]) == 0


def test_int8_is_a_setting():
    from search.settings import Settings

    assert Settings.from_env({"ALTCLIP_INT8": "1"}).int8
    assert not Settings.from_env({"ALTCLIP_INT8": "0"}).int8 and not Settings.from_env({}).int8
    assert Settings.from_env({"ALTCLIP_HEMISPHERE": "South"}).hemisphere == "south"
    assert Settings.from_env({}).hemisphere == "north"


def test_system_errors_are_one_plain_line():
    from search.terminal import error_line

    assert error_line(PermissionError(13, "Permission denied", "/lib\n")) == (
        "Permission denied: /lib\\n"
    )
    assert error_line(OSError(28, "No space left on device")) == "No space left on device"
    assert error_line(SearchError("k must be 1 or more")) == "k must be 1 or more"


def test_a_model_folder_brings_the_thresholds_searches_decide_by(tiny, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny, model)
    (model / "relevance.json").write_text('{"answered": 5.0}')  # no text can be answered
    root = make_photos(tmp_path / "photos")
    Indexer(library=tmp_path / "lib", model=str(model)).run([root])
    lib = Library.open(tmp_path / "lib")
    assert lib.matching.rules.thresholds.answered == 5.0
    assert not any(h.match for h in lib.search("a dog", k=5))  # no file is named so
    (model / "relevance.json").write_text("[1, 2]")
    lib = Library.open(tmp_path / "lib")
    with pytest.raises(SearchError, match="relevance.json"):
        lib.search("beach", k=5)
