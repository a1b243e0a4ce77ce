"""The Streamlit app's flows through Streamlit's AppTest, on real tiny libraries: the searches a
person makes, and what a hostile file name, catalog row, upload or visitor must not get."""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import shutil
import struct
import threading
import time
import zlib
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from search import Hit, Library, image_types
from search.catalog import Photo
from tests.photos import GOOD, _png_header
from tests.test_parity import photo
from ui import i18n, launch
from ui.grid import bands
from ui.style import css_string

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "ui" / "app.py")
# File names that Markdown would turn into a fetch, a link, formatting, LaTeX, HTML, a logo or a
# second line ("/" is the one character a name cannot hold).
HOSTILE = [
    "![b](https:evil.example).jpg",
    "[link](https:evil.example).jpg",
    "**bold**.jpg",
    ":red[x].jpg",
    "$x$.jpg",
    "<img src=x onerror=alert(1)>.jpg",
    "www.evil.example.jpg",
    ":streamlit: -> done.jpg",
    "line\nbreak.jpg",
]
# What a person reads, in each language (the strings files' own words).
WORDS = {
    code: json.loads((ROOT / "ui" / "strings" / f"{code}.json").read_text(encoding="utf-8"))
    for code in ("en", "zh")
}
LOCALES = {"en": "en-US", "zh": "zh-CN"}


def app(monkeypatch, folder, password: str | None = None, locale: str = "en-US") -> AppTest:
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(folder))
    if password is None:
        monkeypatch.delenv("ALTCLIP_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("ALTCLIP_PASSWORD", password)
    at = AppTest.from_file(APP, default_timeout=120)
    at.context = {"locale": locale}  # the browser's navigator.language
    at.run()
    assert not at.exception
    return at


def texts(at: AppTest) -> list[str]:
    """The plain-text lines of the main area, top to bottom."""
    return [t.value for t in at.main.text]


def tiles(at: AppTest) -> list[tuple[str, str]]:
    """(match in words, file name) of each photo in the grid, in order."""
    return [tuple(re.sub(r" \+\d+$", "", t).split(" · ", 1)) for t in texts(at) if " · " in t]


def photos(at: AppTest) -> int:
    """Photos the grid shows: each tile, and the near-duplicates folded into it ("+2")."""
    return sum(
        1 + int(m[1]) if (m := re.search(r" \+(\d+)$", t)) else 1 for t in texts(at) if " · " in t
    )


def viewer(at: AppTest) -> list[str]:
    """The lines of the open photo viewer (a dialog, outside the main area and the sidebar)."""
    outside = {t.value for t in [*at.main.text, *at.sidebar.text]}
    return [t.value for t in at.text if t.value not in outside]


def viewed(at: AppTest) -> Hit:
    """The photo in the viewer."""
    return next(h for h in at.session_state.results if h.id == at.session_state.viewing)


def markdown(at: AppTest) -> str:
    """Everything the page rendered as Markdown."""
    elements = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.title]
    return "\n".join(e.value for e in elements)


def search(at: AppTest, query: str) -> AppTest:
    at.text_input(key="query").input(query).run()
    assert not at.exception
    return at


def open_photo(at: AppTest, n: int) -> AppTest:
    """Click the n-th photo of the grid (the photo is the button)."""
    [b for b in at.button if b.key and b.key.startswith("open-")][n].click().run()
    assert not at.exception
    return at


def hostile_library(root: Path, model: Path) -> Path:
    """A library whose photos have the HOSTILE names; returns its folder."""
    from indexer import Indexer

    photos = root / "photos"
    photos.mkdir(parents=True)
    for seed, name in enumerate(HOSTILE):
        photo(160, 120, 100 + seed).save(photos / name, "JPEG")
    Indexer(library=root / "lib", model=str(model)).run([photos])
    return root / "lib"


def many_library(root: Path, model: Path, n: int = 40) -> Path:
    """A library of `n` small photos, more than the grid's first page; returns its folder."""
    from indexer import Indexer

    photos = root / "photos"
    photos.mkdir(parents=True)
    for i in range(n):
        photo(96, 72, 500 + i).save(photos / f"p{i:02d}.jpg")
    Indexer(library=root / "lib", model=str(model)).run([photos])
    return root / "lib"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, tiny):
    return hostile_library(tmp_path_factory.mktemp("hostile"), tiny)


@pytest.fixture(scope="module")
def many(tmp_path_factory, tiny):
    return many_library(tmp_path_factory.mktemp("many"), tiny)


def test_every_language_has_every_string():
    """A third language is a file: each one says everything English says."""
    for code, table in WORDS.items():
        assert set(table) == set(WORDS["en"]), code
    assert set(i18n.languages()) >= {"en", "zh"}
    assert i18n.choose("zh-CN") == i18n.choose("zh-Hant-TW") == "zh"
    assert i18n.choose("en-GB") == i18n.choose("de-DE") == i18n.choose(None) == "en"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_library_says_what_to_run(monkeypatch, tmp_path, lang):
    """No library yet: the command that makes one, and the demo, in the page's language (no
    English line of the library's own), under the page's one title."""
    words = WORDS[lang]
    at = app(monkeypatch, tmp_path / "empty", locale=LOCALES[lang])
    assert [w.value for w in at.warning] == [words["no_library"]]
    assert texts(at) == [words["no_library_command"].format(folder=tmp_path / "empty")]
    assert [c.value for c in at.caption] == [words["reload"], words["no_library_demo"]]
    assert not at.title and [h.value for h in at.subheader] == [words["title"]]


def test_a_library_that_is_a_file_is_said_so(monkeypatch, tmp_path):
    """Not "index your photos into it": that command would fail the same way."""
    (tmp_path / "afile").write_text("not a library")
    at = app(monkeypatch, tmp_path / "afile")
    assert [w.value for w in at.warning] == [WORDS["en"]["library_is_file"]]
    assert texts(at) == [str(tmp_path / "afile")]


def test_damaged_catalog_says_what_to_do(monkeypatch, tmp_path):
    (tmp_path / "catalog.sqlite").write_bytes(b"not a database")
    at = app(monkeypatch, tmp_path, locale="zh-CN")
    assert [w.value for w in at.warning] == ["照片库打不开："]
    assert "is damaged: move it aside" in texts(at)[0]


def test_chinese_query_shows_an_even_grid_in_chinese(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library, locale="zh-CN")
    assert at.text_input(key="query").label == "搜索照片"
    assert (at.sidebar.metric[0].label, at.sidebar.metric[0].value) == ("照片", str(GOOD))
    assert at.sidebar.text[0].value.startswith(("最近更新：今天 ", "最近更新：昨天 "))  # midnight
    assert at.sidebar.text[-1].value == f"模型：{Path(photo_library_model(photo_library)).name}"
    search(at, "海边的日落")
    found = tiles(at)
    assert len(found) == GOOD and len(at.image) == GOOD  # a thumbnail on every tile
    assert found[0][0] == "最相关"  # the best photo is the best match, in words
    assert {band for band, _ in found} <= {"最相关", "比较相关", "不太相关"}
    assert texts(at)[0].startswith(f"与“海边的日落”最相关的 {GOOD} 张照片（")
    assert not any(re.search(r"-?\d\.\d{3}", t) for t in texts(at))  # no bare cosines


def photo_library_model(library: Path) -> str:
    from search import Library

    return Library.open(library).status().model


def test_language_switch(monkeypatch, photo_library):
    at = search(app(monkeypatch, photo_library, locale="en-US"), "sunset at the beach")
    assert at.text_input(key="query").label == "Search your photos"
    english = tiles(at)
    assert texts(at)[0].startswith(f"{GOOD} photos for “sunset at the beach” (")
    at.segmented_control(key="lang").set_value("zh").run()
    assert not at.exception
    assert at.text_input(key="query").label == "搜索照片"
    assert at.text_input(key="query").value == "sunset at the beach"  # the query stays
    assert texts(at)[0].startswith(f"与“sunset at the beach”最相关的 {GOOD} 张照片（")
    assert [name for _, name in tiles(at)] == [name for _, name in english]
    assert [e.label for e in at.expander] == ["以图搜图", "筛选"]
    at.segmented_control(key="lang").set_value("en").run()
    assert at.text_input(key="query").label == "Search your photos"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_empty_error_and_no_match_states(monkeypatch, photo_library, lang):
    words = WORDS[lang]
    at = app(monkeypatch, photo_library, locale=LOCALES[lang])
    assert [c.value for c in at.caption] == [words["hint"]] and not tiles(at)  # empty
    search(at, "\x01\x02")  # control characters only: nothing typed, no error
    assert [c.value for c in at.caption] == [words["hint"]] and not at.warning
    search(at, "x" * 5000)  # an error: one line in the page's language, nothing else
    too_long = words["too_long"].format(length="5,000", limit="2,000")
    assert [w.value for w in at.warning] == [too_long] and not tiles(at) and not texts(at)
    at.text_input(key="negative").set_value("y" * 3000)
    search(at, "sunset")  # the words to leave out: their own line
    too_long = words["too_long_negative"].format(length="3,000", limit="2,000")
    assert [w.value for w in at.warning] == [too_long] and not tiles(at)
    at.text_input(key="negative").set_value("")
    search(at, "sunset")
    at.selectbox(key="folder").select(at.selectbox(key="folder").options[1]).run()  # …/2023
    at.multiselect(key="kinds").select("PNG").run()  # 2023/ holds only JPEGs: no match
    assert not at.exception and not tiles(at)
    assert [i.value for i in at.info] == [words["no_match"]]
    assert {c.key for c in at.button if c.key.startswith("remove-")} == {
        "remove-folder",
        "remove-kinds",
    }
    at.button(key="remove-kinds").click().run()  # the chip's ✕
    assert len(tiles(at)) == 3 and at.multiselect(key="kinds").value == []


def test_filters_are_chips_and_the_folder_list_is_the_librarys(monkeypatch, photo_library):
    at = search(app(monkeypatch, photo_library), "sunset at the beach")
    folders = at.selectbox(key="folder").options
    root = folders[0]  # the photos' folder, by its name: shown from there down
    assert folders == [root, f"{root}/2023", f"{root}/2023/summer", f"{root}/2024"]
    at.selectbox(key="folder").select(folders[1]).run()
    assert len(tiles(at)) == 3  # 2023 and the summer inside it
    at.text_input(key="negative").input("people").run()
    chips = [t for t in texts(at) if t.startswith(("Folder:", "Without:"))]
    assert chips == [f"Folder: {folders[1]}", "Without: people"]
    at.button(key="remove-folder").click().run()
    assert len(tiles(at)) == GOOD and at.selectbox(key="folder").value is None


def test_a_day_said_is_one_day_on_its_chip(monkeypatch, photo_library):
    """A day said is named once; two phrases are each named with their days."""
    from ui.i18n import strings

    tr = strings("zh")
    chip = tr("chip_said_day", phrase="2023年6月15日", day=tr.date(date(2023, 6, 15)))
    at = search(app(monkeypatch, photo_library, locale="zh-CN"), "2023年6月15日 海边")
    assert [name for _, name in tiles(at)] == ["rotated.JPG"] and chip in texts(at)
    search(at, "2023年6月15日和2019年的海边")
    first, last = tr.date(date(2019, 1, 1)), tr.date(date(2019, 12, 31))
    year = tr("chip_said", phrase="2019年", start=first, end=last)
    assert chip + tr("list_separator") + year in texts(at)


def test_the_query_is_the_urls(monkeypatch, photo_library):
    """A search writes its text to the URL (?q=), and a page opened with it (a reload, a shared
    link) searches it again; an emptied box takes it out."""
    at = app(monkeypatch, photo_library)
    search(at, "sunset")
    assert at.query_params["q"] == "sunset"
    found = tiles(at)
    assert found
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(photo_library))
    again = AppTest.from_file(APP, default_timeout=120)
    again.context = {"locale": "en-US"}
    again.query_params["q"] = "sunset"
    again.run()
    assert again.text_input(key="query").value == "sunset" and tiles(again) == found
    search(again, "")
    assert "q" not in again.query_params


def test_the_language_is_the_urls_and_a_switch_keeps_the_filters(monkeypatch, photo_library):
    """?lang=zh opens the page in Chinese whatever the browser's language, and the switch
    writes the code back; switching keeps the dates chosen."""
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(photo_library))
    at = AppTest.from_file(APP, default_timeout=120)
    at.context = {"locale": "en-US"}
    at.query_params["lang"] = "zh"
    at.run()
    assert at.text_input(key="query").label == "搜索照片"
    at.segmented_control(key="lang").set_value("en").run()
    assert at.query_params["lang"] == "en"
    at.date_input(key="dates").set_value((date(2023, 1, 1), date(2023, 12, 31))).run()
    search(at, "sunset")
    summer = [name for _, name in tiles(at)]
    at.segmented_control(key="lang").set_value("zh").run()
    assert at.date_input(key="dates").value == (date(2023, 1, 1), date(2023, 12, 31))
    assert [name for _, name in tiles(at)] == summer


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_dates_said_in_the_query_are_a_chip(monkeypatch, photo_library, lang):
    """「2023年夏天 海边」 filters by capture date, shows the range it understood as a chip, and
    the chip's ✕ searches the words as words."""
    from ui.i18n import strings

    tr = strings(lang)
    chip = tr(
        "chip_said",
        phrase="2023年夏天",
        start=tr.date(date(2023, 6, 1)),
        end=tr.date(date(2023, 8, 31)),
    )
    at = search(app(monkeypatch, photo_library, locale=LOCALES[lang]), "2023年夏天 海边")
    assert [name for _, name in tiles(at)] == ["rotated.JPG"]  # the one taken 2023-06-15
    assert chip in texts(at)
    at.button(key="remove-said").click().run()
    assert not at.exception and len(tiles(at)) == GOOD and chip not in texts(at)
    assert at.text_input(key="query").value == "2023年夏天 海边"


def test_viewer_shows_details_and_steps_through_results(monkeypatch, photo_library):
    at = search(app(monkeypatch, photo_library), "sunset at the beach")
    names = [name for _, name in tiles(at)]
    open_photo(at, 2)
    shown = viewer(at)
    assert f"3 of {GOOD}" in shown and f"File: {names[2]}" in shown
    assert any(re.fullmatch(r"Relevance: [\w ]+ \(score -?\d\.\d{3}\)", t) for t in shown), shown
    assert any(re.fullmatch(r"[\d,]+ × [\d,]+ pixels, [\d,]+ KB", t) for t in shown), shown
    assert len(at.image) == GOOD + 1  # the grid stays under the viewer
    at.button(key="next").click().run()
    assert f"4 of {GOOD}" in viewer(at) and f"File: {names[3]}" in viewer(at)
    at.button(key="previous").click().run()
    at.button(key="previous").click().run()
    assert f"2 of {GOOD}" in viewer(at) and f"File: {names[1]}" in viewer(at)
    assert not [p for p in viewer(at) if p.startswith("/")]  # the full path only on request
    at.toggle(key="show-path").set_value(True).run()
    assert [p for p in viewer(at) if p.startswith("/") and p.endswith(names[1])]


def test_copies_are_one_tile_and_why_shows_where_it_matches(monkeypatch, tmp_path, tiny):
    """A photo kept twice is one tile ("+1"), its copy named in the viewer; "Why this photo?"
    lays the map of where it matches over the photo."""
    from indexer import Indexer
    from search.explain import overlay
    from ui import viewer as page

    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(6):
        photo(160, 120, 300 + seed).save(folder / f"p{seed}.jpg")
    shutil.copy(folder / "p0.jpg", folder / "p0 copy.jpg")
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([folder])
    at = search(app(monkeypatch, tmp_path / "lib"), "a dog")
    assert photos(at) == 7
    assert texts(at)[0].startswith("6 photos for “a dog”, with 1 copy folded in (")  # the tiles
    folded = [i for i, t in enumerate(t for t in texts(at) if " · " in t) if t.endswith("+1")]
    pair = {"p0.jpg", "p0 copy.jpg"}
    assert [tiles(at)[i][1] for i in folded if tiles(at)[i][1] in pair]  # the pair, as one tile
    open_photo(at, next(i for i in folded if tiles(at)[i][1] in pair))
    (other,) = pair - {os.path.basename(viewed(at).path)}
    assert any(t.startswith("1 more like it") and other in t for t in viewer(at))
    at.button(key="why").click().run()
    assert not at.exception
    assert WORDS["en"]["why_caption"] in [c.value for c in at.caption]
    lib, shown = Library.open(tmp_path / "lib"), viewed(at)
    with Image.open(lib.preview(shown)) as f:  # the map laid over the photo as it is shown
        plain = f.convert("RGBA")
    heat = lib.explain(shown, lib.query_vector("a dog"), grid=page.WHY_GRID)
    want = Image.alpha_composite(plain, overlay(heat, plain.size))
    assert np.array_equal(np.asarray(at.session_state.why_shown[1]), np.asarray(want))
    assert at.button(key="why").label == WORDS["en"]["why_hide"]
    at.button(key="why").click().run()
    assert WORDS["en"]["why_caption"] not in [c.value for c in at.caption]


def test_the_viewer_keeps_its_photo_while_the_library_changes(monkeypatch, tmp_path, tiny):
    """Photos indexed while the viewer is open (altclip-ui --watch, an altclip-index beside the
    page) move the results: the viewer keeps the photo that was opened, at its new place; a
    photo gone from the library closes it."""
    from indexer import Indexer

    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(4):
        photo(160, 120, 900 + seed).save(folder / f"p{seed}.jpg")
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([folder])
    at = open_photo(search(app(monkeypatch, tmp_path / "lib"), "a dog"), 1)
    opened = tiles(at)[1][1]
    assert f"File: {opened}" in viewer(at) and "2 of 4" in viewer(at)
    for seed in range(8):
        photo(160, 120, 950 + seed).save(folder / f"q{seed}.jpg")
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([folder])
    at.run()
    assert not at.exception and tiles(at)[1][1] != opened  # the results moved
    place = [name for _, name in tiles(at)].index(opened)
    assert f"File: {opened}" in viewer(at) and f"{place + 1} of 12" in viewer(at)
    at.button(key="next").click().run()
    assert f"File: {tiles(at)[place + 1][1]}" in viewer(at)
    (folder / tiles(at)[place + 1][1]).unlink()
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([folder])
    at.run()
    assert not at.exception and not viewer(at) and len(tiles(at)) == 11


def test_more_like_this(monkeypatch, photo_library):
    at = search(app(monkeypatch, photo_library, locale="zh-CN"), "sunset at the beach")
    name = tiles(at)[0][1]
    open_photo(at, 0)
    at.button(key="more-like").click().run()
    assert not at.exception and not viewer(at)  # closed, for the new query
    assert at.text_input(key="query").value == ""
    assert f"与 {name} 相似" in texts(at)  # its chip
    assert texts(at)[1].startswith(f"与 {name} 最相关的 {GOOD - 1} 张照片")
    assert name not in [n for _, n in tiles(at)]  # never its own result
    at.button(key="remove-like").click().run()
    assert not tiles(at) and [c.value for c in at.caption] == [WORDS["zh"]["hint"]]


def test_show_more(monkeypatch, many):
    """30 tiles, then all: the summary counts the tiles, and apart the copies folded into them
    (the random test model may fold some of the 40 photos into others' tiles)."""
    at = search(app(monkeypatch, many, locale="zh-CN"), "a dog")
    assert len(tiles(at)) == 30 and len(at.image) == 30
    assert texts(at)[0].startswith(summary_zh("a dog", 30, photos(at) - 30))
    at.button(key="more").click().run()
    assert photos(at) == 40 and not [b for b in at.button if b.key == "more"]
    assert texts(at)[0].startswith(summary_zh("a dog", len(tiles(at)), 40 - len(tiles(at))))
    search(at, "a cat")  # a new query starts with one page again
    assert len(tiles(at)) == 30


def summary_zh(query: str, n: int, copies: int) -> str:
    """The start of the Chinese summary of `n` tiles holding `copies` copies besides."""
    words = WORDS["zh"]
    folded = words["summary_copies_one" if copies == 1 else "summary_copies"]
    return f"与“{query}”最相关的 {n} 张照片{folded.format(n=copies) if copies else ''}（"


def test_esc_closes_the_viewer_at_either_end(monkeypatch, photo_library):
    """Esc is the page's shortcut, not only the viewer's: the dialog hears it only while the
    focus is inside it, and the focus falls to the page once ← or → reaches an end and its
    button is disabled. A hidden button of the page, bound to Esc, closes it from anywhere
    (tests/test_browser.py presses the key)."""
    at = search(app(monkeypatch, photo_library), "sunset")
    for first, step in ((1, "previous"), (GOOD - 2, "next")):
        open_photo(at, first)
        at.button(key=step).click().run()
        assert at.button(key=step).disabled  # an end: the focus is on the page now
        close = at.button(key="close-viewer")
        assert close.proto.shortcut == "escape"
        assert "close-viewer" in [b.key for b in at.main.button]  # the page's, not the dialog's
        close.click().run()
        assert not at.exception and not viewer(at) and at.session_state.viewing is None
        assert len(at.image) == GOOD  # the grid stays as it was
    assert ".st-key-close-viewer { display: none; }" in "".join(h.proto.body for h in at.html)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_where_nothing_matches_no_tile_says_match(monkeypatch, photo_library, tmp_path, lang):
    """The random test model matches nothing: the grid says so once, and each tile (and the
    viewer) says how close it is, not how well it matches."""
    # Asked of the exact text tower, in a library of its own (the page keeps each library it
    # opened): int8's own noise (a cosine of 0.9999 to the exact vector) moves this random
    # 16-d model's scores by as much as its margin, either way.
    monkeypatch.setenv("ALTCLIP_EXACT", "1")
    words = WORDS[lang]
    lib = shutil.copytree(photo_library, tmp_path / "lib")
    at = search(app(monkeypatch, lib, locale=LOCALES[lang]), "sunset at the beach")
    assert [h.match for h in at.session_state.results] == [False] * GOOD  # as searched
    assert [i.value for i in at.info] == [words["none_match"]]
    said = [band for band, _ in tiles(at)]
    assert said[0] == words["band_closest"]
    assert set(said) <= {words["band_closest"], words["band_close"], words["band_far"]}
    open_photo(at, 0)
    relevance = words["relevance"].format(band=words["band_closest"], score="")[:-1]
    assert [line for line in viewer(at) if line.startswith(relevance)]


def test_bands():
    """How close to the best, at least "good" where the search counts a match; where it counts
    none, how close only; where it could not tell (None), how close to the best, as matches."""

    def hits(*found: tuple[float, bool | None]) -> list[Hit]:
        return [Hit(f"/p{i}.jpg", s, i, "", None, None, None, m) for i, (s, m) in enumerate(found)]

    strong, good, weak = "band_strong", "band_good", "band_weak"
    assert bands(hits((0.5, True), (0.49, False), (0.45, True), (0.3, False))) == [
        strong,
        strong,
        good,
        weak,
    ]
    assert bands(hits((0.5, None), (0.46, None), (0.3, None))) == [strong, good, weak]
    assert bands(hits((0.5, False), (0.46, False), (0.3, False))) == [
        "band_closest",
        "band_close",
        "band_far",
    ]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_streamlits_own_words_are_the_pages(monkeypatch, photo_library, lang):
    """What Streamlit writes in English (the uploader's button and its line of size and types,
    "Stop" while it runs, "Press Enter to apply") is drawn in the page's words, the size the
    library's own limit; the ⋮ menu, which has nothing to say in them, is hidden.
    (tests/test_browser.py looks at the page as drawn.)"""
    words = WORDS[lang]
    at = app(monkeypatch, photo_library, locale=LOCALES[lang])
    css = "".join(h.proto.body for h in at.html)
    for key in ("upload_button", "stop", "press_enter"):
        assert f"content: {css_string(words[key])};" in css
    limit = Library.open(photo_library).max_file_mb
    assert at.file_uploader[0].proto.max_upload_size_mb == limit
    readable = {"JPEG": "jpg", "PNG": "png", "HEIC": "heic", "WebP": "webp", "GIF": "gif"}
    readable |= {"TIFF": "tif", "BMP": "bmp", "AVIF": "avif"}  # HEIC, AVIF: where Pillow can
    types = [kind for kind, end in readable.items() if end in image_types()]
    listed = words["list_separator"].join(types)
    said = words["upload_limits"].format(types=listed, mb=f"{limit:.0f}")
    assert f"content: {css_string(said)};" in css and {"JPEG", "PNG", "WebP"} <= set(types)
    assert '[data-testid="stMainMenu"] { display: none; }' in css


def test_results_by_date(monkeypatch, photo_library):
    at = search(app(monkeypatch, photo_library), "sunset")
    by_relevance = [name for _, name in tiles(at)]
    at.segmented_control(key="sort").set_value("date").run()
    assert not at.exception
    by_date = [name for _, name in tiles(at)]
    assert sorted(by_date) == sorted(by_relevance)
    assert by_date[-1] == "rotated.JPG"  # taken in 2023; the others' files are from today


def test_long_query_is_shortened_with_a_note(monkeypatch, photo_library):
    query = "a very long description of a sunset at the beach " * 30
    at = search(app(monkeypatch, photo_library), query)
    summary = texts(at)[1]
    assert len(summary) < 200 and "…" in summary
    note = texts(at)[0]
    assert note.startswith("Your query is long: the model reads it only up to “")


def test_hostile_names_are_shown_as_text(monkeypatch, hostile):
    at = search(app(monkeypatch, hostile), "**bold** $x$ :red[x]")
    open_photo(at, 0)
    at.toggle(key="show-path").set_value(True).run()  # and the viewer, with the full path
    assert not at.exception
    names = {name for _, name in tiles(at)}  # copies of a photo are folded into its tile
    assert names <= {n.replace("\n", "\\n") for n in HOSTILE}  # each name as it is, on one line
    assert photos(at) == len(HOSTILE)
    assert any(t.startswith(str(hostile.parent / "photos")) for t in viewer(at))
    assert any("“**bold** $x$ :red[x]”" in t for t in texts(at))  # the query echo, as typed
    shown = markdown(at)
    assert not any(part in shown for part in ["evil", "**", "$x$", ":red[", "<img", ":streamlit:"])


def test_crafted_catalog_rows_open_no_other_file(monkeypatch, tmp_path, photo_library):
    """A catalog row may be forged (sha256 '../secret', a path that is now a FIFO or a folder): the
    page shows no thumbnail or preview for it, never opens it, and does not hang or crash. The
    library has no previews (as one indexed before they existed): the viewer reads originals."""
    lib = shutil.copytree(photo_library, tmp_path / "lib")
    shutil.rmtree(lib / "previews")
    photo(64, 64, 99).save(tmp_path / "secret.webp")  # where thumbs/../../secret.webp leads
    os.mkfifo(tmp_path / "fifo.jpg")  # opening it for reading would block the page for good
    (tmp_path / "folder.jpg").mkdir()
    forbidden = {
        "/etc/passwd",
        *(str(tmp_path / n) for n in ["secret.webp", "fifo.jpg", "folder.jpg"]),
    }
    engine = create_engine(f"sqlite:///{lib / 'catalog.sqlite'}")
    with Session(engine) as s, s.begin():
        ids = s.scalars(select(Photo.id).where(Photo.status == "ok").order_by(Photo.id)).all()
        forged = dict(zip(ids, ["../secret", "../../../../etc/passwd"], strict=False))
        for i, sha in forged.items():
            s.execute(update(Photo).where(Photo.id == i).values(sha256=sha))
        moved = dict(zip(ids[2:], [tmp_path / "fifo.jpg", tmp_path / "folder.jpg"], strict=False))
        for i, path in moved.items():
            s.execute(update(Photo).where(Photo.id == i).values(path=str(path)))
    engine.dispose()

    opened = []
    real_open = builtins.open

    def recording_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):
            opened.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    at = search(app(monkeypatch, lib), "sunset")
    assert len(tiles(at)) == GOOD
    assert len(at.image) == GOOD - len(forged)  # the thumbnails of the rows left as they were
    for i in moved:
        at.button(key=f"open-{i}").click().run()
        assert not at.exception and [w.value for w in at.warning] == [WORDS["en"]["photo_gone"]]
        assert len(at.image) == GOOD - len(forged)  # no photo shown in the viewer
    at.button(key=f"open-{ids[-1]}").click().run()  # an untouched row: its original, read
    assert len(at.image) == GOOD - len(forged) + 1
    assert not forbidden & set(opened)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, *chunks: bytes, colour: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + b"".join(chunks) + pixels


def apng_with_a_giant_frame() -> bytes:
    buf = io.BytesIO()
    photo(64, 48, 1).save(buf, "PNG", save_all=True, append_images=[photo(64, 48, 2)])
    data = buf.getvalue()
    at = data.index(b"fcTL")
    body = data[at + 4 : at + 30]
    giant = body[:4] + struct.pack(">II", 100_000, 100_000) + body[12:]
    return data[: at - 4] + chunk(b"fcTL", giant) + data[at + 34 :]


UPLOADS = {
    "bomb.png": lambda: _png_header(60_000, 60_000),  # 3.6 gigapixels claimed in 80 bytes
    "malformed.png": lambda: png(64, 64)[:30] + b"\xff" * 20,
    "animated.png": apng_with_a_giant_frame,
    "broken.gif": lambda: b"GIF89a\x40\x00\x30\x00\xf7\x00\x00" + b"\x01" * 40,
    "palette.png": lambda: png(8, 8, chunk(b"PLTE", bytes(range(256)) * 4), colour=3),
    "notes.png": lambda: b"a text file, renamed\n",
    "empty.png": lambda: png(0, 0),
}


@pytest.mark.parametrize("name", UPLOADS)
def test_unreadable_upload_is_one_line(monkeypatch, photo_library, name):
    lang = "zh" if list(UPLOADS).index(name) % 2 else "en"
    at = app(monkeypatch, photo_library, locale=LOCALES[lang])
    at.file_uploader[0].upload(name, UPLOADS[name](), "image/png").run()
    assert not at.exception and not tiles(at) and not at.image
    assert [w.value for w in at.warning] == [WORDS[lang]["unreadable"]]
    assert texts(at) == [WORDS[lang]["chip_upload"]]  # nothing else said


def test_upload_finds_photos_like_it_but_not_itself(monkeypatch, photo_library):
    from search import Library

    (beach,) = [p for p in Library.open(photo_library).catalog.known() if p.endswith("beach.jpg")]
    at = app(monkeypatch, photo_library)
    at.file_uploader[0].upload("beach.jpg", Path(beach).read_bytes(), "image/jpeg").run()
    assert not at.exception and not at.warning
    assert texts(at)[0] == "Like your photo"  # its chip
    assert texts(at)[1].startswith(f"{GOOD - 1} photos for your photo (")
    assert "beach.jpg" not in [name for _, name in tiles(at)]  # the same bytes: left out
    assert len(at.image) == GOOD  # the other photos, and the uploaded one, previewed
    buf = io.BytesIO()
    photo(640, 480, 1).save(buf, "JPEG", quality=80)  # the same picture, other bytes
    at.file_uploader[0].upload("copy.jpg", buf.getvalue(), "image/jpeg").run()
    assert tiles(at)[0][1] == "beach.jpg"


def test_a_library_photo_is_left_out_by_its_path_as_by_its_bytes(photo_library, tmp_path):
    """A query image the library holds, named by its path (the API, altclip-search --image) or
    given as its bytes (the page's upload): one rule, by the sha256 of its bytes; every other
    photo, ranked alike. A copy with other bytes still finds it first."""
    lib = Library.open(photo_library)
    (beach,) = [p for p in lib.catalog.known() if p.endswith("beach.jpg")]
    by_path = lib.search(image=beach, k=GOOD)
    by_bytes = lib.search(image=Path(beach).read_bytes(), k=GOOD)
    assert beach not in [h.path for h in by_path] and len(by_path) == GOOD - 1
    assert [(h.id, h.score) for h in by_path] == [(h.id, h.score) for h in by_bytes]
    Image.open(beach).save(tmp_path / "copy.png")
    assert lib.search(image=tmp_path / "copy.png", k=1)[0].path == beach


def test_password_first(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library, password="correct horse", locale="zh-CN")
    assert [t.label for t in at.text_input] == ["密码"]
    assert not (at.image or at.text or at.metric or at.sidebar.children or at.file_uploader)
    at.text_input[0].input("wrong").run()
    assert [e.value for e in at.error] == ["密码不对，请再试一次。"]
    assert not (at.image or at.text or at.metric or at.sidebar.children or at.file_uploader)
    at.text_input[0].input("correct horse").run()
    assert not at.error and at.sidebar.metric[0].value == str(GOOD)
    assert "密码" not in [t.label for t in at.text_input]  # the box has gone
    search(at, "海边的日落")
    assert len(tiles(at)) == GOOD


def test_password_guesses_are_one_a_second(monkeypatch):
    """A wrong password costs WRONG_PASSWORD_WAIT, and guesses from parallel sessions queue."""
    import threading

    from ui import header as page

    monkeypatch.setattr(page, "WRONG_PASSWORD_WAIT", 0.2)
    guesses = [threading.Thread(target=page.right_password, args=(g, "secret")) for g in "abc"]
    start = time.monotonic()
    for g in guesses:
        g.start()
    for g in guesses:
        g.join()
    assert time.monotonic() - start >= 3 * 0.2
    assert page.right_password("secret", "secret") and not page.right_password("secre", "secret")


GC = "STREAMLIT_RUNNER_POST_SCRIPT_GC"


def launch_env(monkeypatch) -> None:
    """launch.main sets these for the app it starts: they must not outlive the test (delenv of
    a variable that is absent records nothing to undo, hence the setenv first)."""
    for name in ("ALTCLIP_PASSWORD", "ALTCLIP_LIBRARY", "ALTCLIP_CATALOG", GC):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "", "192.168.1.20", "photos.example"])
def test_network_address_needs_a_password(monkeypatch, capsys, address):
    launch_env(monkeypatch)
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("started without a password"))
    assert launch.main(["--address", address]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "ALTCLIP_PASSWORD=" in err


@pytest.mark.parametrize(
    "address, password",
    [("localhost", None), ("127.0.0.2", None), ("::1", None), ("0.0.0.0", "s3")],
)
def test_launch(monkeypatch, tmp_path, address, password):
    """Loopback needs no password; a password reaches the app in its environment, not in `ps`."""
    launch_env(monkeypatch)
    started = []
    monkeypatch.setattr(os, "execv", lambda exe, cmd: started.append(cmd))
    argv = ["--address", address, "--library", str(tmp_path)]
    launch.main(argv + (["--password", password] if password else []))
    (cmd,) = started
    assert os.environ.get("ALTCLIP_PASSWORD") == password and password not in cmd
    assert cmd[cmd.index("--client.showErrorDetails") + 1] == "none"
    assert cmd[cmd.index("--server.enableStaticServing") + 1] == "false"
    assert os.environ[GC] == "false"  # no full collection after every run of the page


def test_the_library_opened_while_the_server_starts_serves_the_first_page(
    monkeypatch, photo_library, tmp_path
):
    """altclip-ui opens the library once Streamlit listens (ui/early.py, ui/serve.py): the
    page's first open takes that one, once, its text tower loading; a library that cannot open
    leaves the page to open it and say why."""
    from ui import early, serve

    opening = {}
    monkeypatch.setattr(early, "_opening", opening)
    asked = []
    early.begin(str(photo_library), None, after=lambda: asked.append(1) or len(asked) == 3)
    opening[str(photo_library), None][2].wait()  # the open, on its own
    opened = early.take(str(photo_library), None)
    assert opened is not None and early.take(str(photo_library), None) is None  # taken once
    assert len(asked) == 3  # opened once `after` said so, not before
    assert serve.listening() is False  # no Streamlit server in this process
    early.begin(str(photo_library), None, after=lambda: False)  # a server that never says so
    start = time.monotonic()
    assert early.take(str(photo_library), None) is not None  # the page asks: opened now
    assert time.monotonic() - start < early.WAIT / 2
    for thread in threading.enumerate():
        if thread.name == "altclip-warm-up":
            thread.join()
    assert "text" in opened.towers.loaded()

    st.cache_resource.clear()  # no library a test before opened
    early.begin(str(tmp_path / "none"), None)
    at = app(monkeypatch, tmp_path / "none")
    assert [w.value for w in at.warning] == [WORDS["en"]["no_library"]]  # as before
    early.begin(str(photo_library), None)
    at = app(monkeypatch, photo_library)
    assert early.take(str(photo_library), None) is None  # the page took it
    search(at, "sunset at the beach")
    assert photos(at) > 0
