"""Search quality measured on the toy world (tests/toyworld.py): a tiny AltCLIP trained on coloured
shapes, loaded and run by the product's own code (altclip_core.load, the indexer, Library). The
figures are tests/toyquality.py's, on held-out seeds; bench/quality.py prints them all."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from search import Library, SearchError
from search.matching import Rules
from search.query import parse
from search.relevance import Background, Captions
from tests import toyquality, toyworld
from tests.toyquality import LANGS

# Not met. Image queries, measured by the background: at Z 4 nothing stands out of the toy
# library, and pictures of what it lacks stand as far out as pictures of what it has (README,
# `--with separation`), so no Z calibrated here would be one to ship. Strict: remove once a model
# or method meets them.
NOTHING_MATCHES = pytest.mark.xfail(strict=True, reason="at Z 4 only a picture's copies match")


@pytest.fixture(scope="module")
def toy_model():
    return toyworld.model_folder()  # trained here (minutes) if this version has no model yet


@pytest.fixture(scope="module")
def toy(tmp_path_factory, toy_model):
    """300 toy photos with capture dates over 2015-2025, indexed by the indexer."""
    return toyquality.build_library(tmp_path_factory.mktemp("toy"), toy_model)


@pytest.mark.parametrize("lang", LANGS)
def test_held_out_captions_find_their_scenes(toy_model, lang):
    """Recall@5 >= 0.9: 200 scenes the model never saw, each with a caption naming all it
    shows, no two alike; each caption ranks its own scene among the 5 best."""
    assert toyquality.recall_at_5(toy_model, lang) >= 0.9


@pytest.mark.parametrize("lang", LANGS)
def test_matches_are_the_photos_the_query_names(toy, lang):
    """Over 80 held-out queries naming things the library shows ("红色的圆", "two squares on
    the left"), the photos marked `match` are those that show it: precision and recall >= 0.9."""
    precision, recall = toyquality.match_quality(toy, lang)
    assert precision >= 0.9 and recall >= 0.9


@pytest.mark.parametrize("lang", LANGS)
def test_absent_subjects_match_nothing(toy, lang):
    """Queries that name a star or something purple (the library has neither) return nothing
    with matches_only, in at least 90% of them."""
    assert toyquality.absent_no_match(toy, lang) >= 0.9


def test_matches_only_keeps_the_hits_decided_to_match(toy, monkeypatch):
    """Whatever the library's text rule decides, `Hit.match` carries it and matches_only keeps
    exactly those hits, best first; decided on the k best before min_score drops any."""
    seen = []

    class EveryOther(Rules):
        def text(self, scores, yardsticks, leaders=None, rivals=None):
            assert len(yardsticks) == len(scores)  # a text query: measured by the yardsticks
            seen.append(len(scores))
            return np.arange(len(scores)) % 2 == 0

    monkeypatch.setattr(toy.lib.matching, "rules", EveryOther())
    every = toy.lib.search("红色的圆", k=10)
    assert [h.match for h in every] == [True, False] * 5
    only = toy.lib.search("红色的圆", k=10, matches_only=True)
    assert only == every[::2]
    floor = every[3].score
    assert toy.lib.search("红色的圆", k=10, matches_only=True, min_score=floor) == every[:4:2]
    assert seen == [10, 10, 10]


def test_matches_only_returns_the_matches(toy):
    every = toy.lib.search("红色的圆", k=len(toy.scenes))
    only = toy.lib.search("红色的圆", k=len(toy.scenes), matches_only=True)
    assert only and only == [h for h in every if h.match]
    assert any(h.match is False for h in every)
    # Decided among the k best: the matches of the 3 best are some of those 3, best first.
    three = [h.id for h in toy.lib.search("红色的圆", k=3, matches_only=True)]
    assert three and three == [h.id for h in every[:3] if h.id in three]


def test_a_filter_does_not_change_which_photos_match(toy):
    """Decided among the library's best too: the red circles of summer 2021 that match 红色的圆
    still match 「2021年夏天 红色的圆」, and the others of that summer still do not."""
    k = len(toy.scenes)
    every = {h.id: h.match for h in toy.lib.search("红色的圆", k=k)}
    for query in ("2021年夏天 红色的圆", "红色的圆 2019到2020年"):
        hits = toy.lib.search(query, k=k)
        assert hits and any(h.match for h in hits), query
        assert all(h.match == every[h.id] for h in hits), query
        short = toy.lib.search(query, k=3)  # the same, however few are asked for
        assert [h.match for h in short] == [every[h.id] for h in short], query
    photo = next(iter(toy.scenes))  # an image query too
    every = {h.id: h.match for h in toy.lib.search(like=photo, k=k)}
    hits = toy.lib.search(like=photo, k=k, after="2019-01-01", before="2021-01-01")
    assert hits and all(h.match == every[h.id] for h in hits)


def test_the_cli_prints_the_matches_only(toy, capsys):
    """altclip-search --matches prints the photos the search decides match, in its order;
    --json says of each photo whether it matches."""
    import json

    from search.cli import main as search_main

    args = ["红色的圆", "--library", str(toy.lib.folder), "-k", "100", "--json"]
    assert search_main(args) == 0
    every = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {row["match"] for row in every} == {True, False}
    assert search_main([*args, "--matches"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        row for row in every if row["match"]
    ]
    assert search_main(["紫色的星星", *args[1:], "--matches"]) == 0  # absent: none match
    assert capsys.readouterr().err == "altclip-search: no photo matches (nothing here shows it)\n"
    assert search_main([*args, "--negative", "红色的圆", "--matches"]) == 0  # all ruled out
    expected = "no photo matches (nothing here shows it, or the negative rules them out)"
    assert capsys.readouterr().err == f"altclip-search: {expected}\n"


def test_the_page_shows_only_the_matches_when_asked(toy, monkeypatch):
    """The page's "Only photos that match" shows the matches alone, with a chip whose ✕ shows
    every photo again; a subject the library lacks then shows nothing, and says so."""
    from tests.test_ui import WORDS, app, photos, search, texts

    at = search(app(monkeypatch, toy.lib.folder), "两个红色的大圆")
    every = photos(at)
    at.toggle(key="matches_only").set_value(True).run()
    found = toy.lib.search("两个红色的大圆", k=every, group=True, matches_only=True)
    assert 0 < photos(at) == sum(1 + len(h.duplicates) for h in found) < every
    assert "Matches only" in texts(at)
    search(at, "紫色的星星")
    assert not photos(at) and [i.value for i in at.info] == [WORDS["en"]["no_match"]]
    at.button(key="remove-matches").click().run()
    assert photos(at) == every and not at.toggle(key="matches_only").value


def test_a_text_query_is_measured_by_the_words_it_embeds(toy, monkeypatch):
    """In the language of the words embedded (a date said in Chinese is not embedded), with a
    negative or a photo too: each text by its own language."""
    said, language = [], Captions.language
    monkeypatch.setattr(
        Captions, "language", lambda self, text: said.append(text) or language(self, text)
    )
    assert toy.lib.search("red circles 2021年", k=5)
    assert toy.lib.search("红色的圆", negative="正方形", k=5)
    assert toy.lib.search("红色的圆", like=next(iter(toy.scenes)), k=5)
    assert said == ["red circles", "红色的圆", "正方形", "红色的圆"]
    with pytest.raises(SearchError, match=r"photos \[999999\] are not in the index"):
        toy.lib.yardsticks("red circles", [next(iter(toy.scenes)), 999999])


@NOTHING_MATCHES
def test_image_queries_match_their_colour_and_kind(toy, tmp_path):
    """A new picture of a scene the library shows matches photos of that scene's colour and
    kind, and few others."""
    precision, answered = toyquality.image_queries(toy, tmp_path)["image"]
    assert precision >= 0.9 and answered == 1


def test_mixed_queries_match_their_colour_and_kind(toy, tmp_path):
    """The same pictures with the text of their colour and kind ("a red circle")."""
    precision, answered = toyquality.image_queries(toy, tmp_path)["mixed"]
    assert precision >= 0.9 and answered == 1


def test_the_words_of_a_query_decide_its_matches(toy, tmp_path):
    """With a picture, the photos the text matches alone match, ranked by both; with a negative,
    those the negative matches alone do not."""
    k = len(toy.scenes)
    alone = toy.lib.search("a red circle", k=k)
    words = {h.id: h.match for h in alone}
    large = {h.id: h.match for h in toy.lib.search("a large shape", k=k)}
    picture = tmp_path / "picture.jpg"
    rng = np.random.default_rng(3)
    picture.write_bytes(toyworld.photo_bytes(toyworld.random_scene(rng), rng))
    mixed = toy.lib.search("a red circle", image=picture, k=k)
    assert [h.match for h in mixed] == [words[h.id] for h in mixed]
    assert [h.id for h in mixed] != [h.id for h in alone]  # the picture ranks
    pushed = toy.lib.search("a red circle", negative="a large shape", k=k)
    assert [h.match for h in pushed] == [words[h.id] and not large[h.id] for h in pushed]
    assert any(h.match for h in pushed) and any(words[h.id] and not h.match for h in pushed)
    # The query photo is left out of the results (like=), not out of the words' own best: the
    # photo of the best standing is the query photo.
    ids = np.array([h.id for h in alone])
    standing = np.array([h.score for h in alone]) - toy.lib.yardsticks("a red circle", ids)
    leader = int(ids[np.argmax(standing)])
    found = toy.lib.search("a red circle", like=leader, k=k)
    assert leader not in {h.id for h in found}
    assert [h.match for h in found] == [words[h.id] for h in found]


def test_a_filter_does_not_change_which_photos_match_with_a_picture_or_a_negative(toy, tmp_path):
    k = len(toy.scenes)
    every = {h.id: h.match for h in toy.lib.search("红色的圆", k=k)}
    picture = tmp_path / "picture.jpg"
    rng = np.random.default_rng(5)
    picture.write_bytes(toyworld.photo_bytes(toyworld.random_scene(rng), rng))
    for more in (dict(image=picture), dict(negative="星星")):  # no stars: it rules none out
        for n in (k, 3):
            hits = toy.lib.search("红色的圆 2019到2020年", **more, k=n)
            assert hits and [h.match for h in hits] == [every[h.id] for h in hits], (more, n)
        assert any(h.match for h in toy.lib.search("红色的圆 2019到2020年", **more, k=k)), more


def test_a_date_alone_with_a_picture_filters_and_the_picture_decides(toy, tmp_path):
    """「2021年」 with a picture: the photos of 2021 as the picture alone finds them, not every
    photo of 2021 matched by the words "2021年"."""
    picture = tmp_path / "picture.jpg"
    rng = np.random.default_rng(4)
    picture.write_bytes(toyworld.photo_bytes(toyworld.random_scene(rng), rng))
    year = dict(after="2021-01-01", before="2022-01-01")
    alone = toy.lib.search(image=picture, k=20, **year)
    assert alone and toy.lib.search("2021年", image=picture, k=20) == alone


def test_the_background_is_sampled_once_per_index(toy, monkeypatch, tmp_path):
    fit, made = Background.fit, []
    monkeypatch.setattr(Background, "fit", lambda *a, **kw: made.append(1) or fit(*a, **kw))
    lib = Library.open(toy.lib.folder)
    photo = next(iter(toy.scenes))
    for query in [dict(text="a red circle"), dict(text="蓝色的正方形"), dict(like=photo)]:
        assert lib.search(**query, k=5)[0].match is not None
    assert len(made) == 1


def test_a_date_phrase_filters_the_photos_by_capture_date(toy):
    """「2021年夏天 红色的圆」: parsed, the range goes to Library.search's after/before, and the
    photos returned are exactly the library's photos taken that summer."""
    for typed in ["2021年夏天 红色的圆", "squares from 2019 to 2020", "去年的三角形"]:
        q = parse(typed, today=datetime(2024, 3, 1))
        assert q.after and q.before and q.text
        hits = toy.lib.search(q.text, after=q.after, before=q.before, k=len(toy.dates))
        inside = {i for i, d in toy.dates.items() if q.after <= d < q.before}
        assert inside and {h.id for h in hits} == inside
    # Two phrases: the photos of either, none between.
    hits = toy.lib.search("红色的圆 2019年和2021年", k=len(toy.dates))
    years = {toy.dates[h.id].year for h in hits}
    assert years == {2019, 2021}
    assert len(hits) == sum(d.year in (2019, 2021) for d in toy.dates.values())
