"""The Streamlit app's flows through Streamlit's AppTest, on a real tiny library."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.photos import GOOD

APP = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")


def app(monkeypatch, folder) -> AppTest:
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(folder))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def scores(at: AppTest) -> list[float]:
    return [float(c.value.split(" · ")[0]) for c in at.caption if " · " in c.value]


def test_no_library_says_what_to_run(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path / "empty")
    assert "altclip-index" in at.info[0].value


def test_damaged_catalog_says_what_to_do(monkeypatch, tmp_path):
    (tmp_path / "catalog.sqlite").write_bytes(b"not a database")
    at = app(monkeypatch, tmp_path)
    assert "move a damaged catalog.sqlite aside" in at.info[0].value


def test_chinese_query_shows_ranked_scores(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library)
    assert at.sidebar.metric[0].value == str(GOOD)
    at.text_input[0].input("海边的日落").run()
    assert not at.exception
    found = scores(at)
    assert len(found) == GOOD and found == sorted(found, reverse=True)
    assert any(c.value.startswith(f"{GOOD} photos best matching “海边的日落”") for c in at.caption)


def test_open_a_result_and_filters(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library)
    at.text_input[0].input("sunset at the beach").run()
    at.button[0].click().run()
    assert not at.exception
    assert any("score" in c.value and "×" in c.value for c in at.caption)
    at.sidebar.text_input[1].input("2023").run()  # folder filter
    assert len(scores(at)) == 3
    at.sidebar.multiselect[0].select("PNG").run()  # and file type: 2023/ holds only JPEGs
    assert not at.exception and not scores(at) and "No photo matches" in at.info[0].value
    at.sidebar.text_input[1].input("").run()
    assert len(scores(at)) == 4  # square, grey16, palette, alpha


def test_bad_query_is_a_warning(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library)
    at.text_input[0].input("x" * 5000).run()
    assert not at.exception and "characters long" in at.warning[0].value
