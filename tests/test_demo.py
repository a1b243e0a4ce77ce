"""`altclip-demo`: a first minute with the page without the 3.5 GB download. The command draws the
demo's photos and indexes them with the tiny model the package ships (ui/demo/toy-model), and the
page opened on them says it is a demo. The drawing must be the toy world's and the model the
committed one: the model knows nothing else."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from search import Library
from tests import toyworld
from tests.test_ui import LOCALES, WORDS, app, search, tiles
from ui import launch
from ui.demo import MODEL, cli, is_demo, scenes


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The folder `altclip-demo FOLDER --build-only` made."""
    folder = tmp_path_factory.mktemp("demo")
    assert cli.main([str(folder), "--build-only"]) == 0
    return folder


def test_altclip_demo_builds_a_library_that_finds_what_it_is_asked(demo):
    """Every drawn photo indexed with the demo's model; a scene's caption, in Chinese or in
    English, finds that scene among the first five; what the page suggests trying matches."""
    lib = Library.open(demo / "library")
    status = lib.status()
    assert status.photos == cli.PHOTOS + cli.COPIES and not status.failed
    assert is_demo(status.model) and Path(status.model) == MODEL.resolve()
    drawn = cli.scenes()
    for i in range(0, cli.PHOTOS, 6):
        for lang in ("zh", "en"):
            hits = lib.search(scenes.caption(drawn[i], lang), k=5)
            assert f"IMG_{i + 1:04d}.jpg" in [Path(h.path).name for h in hits], (lang, i)
    for lang in ("zh", "en"):
        suggested = re.findall(r"[“「](.+?)[”」]", WORDS[lang]["demo"])
        assert len(suggested) == 3
        for query in suggested:
            assert lib.search(query, k=5, matches_only=True), query
    grouped = lib.search(scenes.caption(drawn[0], "zh"), k=5, group=True)
    (first,) = [h for h in grouped if Path(h.path).name == "IMG_0001.jpg"]
    assert [Path(h.path).name for h in first.duplicates] == ["IMG_0001.jpg"]  # and its copy


def test_a_second_run_redraws_and_indexes_nothing(demo, capsys):
    photos = sorted((demo / "photos").rglob("*.jpg"))
    before = [p.stat().st_mtime_ns for p in photos]
    assert cli.main([str(demo), "--build-only"]) == 0
    out = capsys.readouterr().out
    assert f"0 added, 0 updated, 0 moved, 0 removed, 0 failed, {len(photos)} unchanged" in out
    assert [p.stat().st_mtime_ns for p in photos] == before
    assert f"altclip-ui --library {demo / 'library'}" in out


def test_the_drawing_is_the_toy_worlds():
    """The product's copy of the toy world's drawing draws the very same files and captions
    (tests/toyworld.py trained the model on them), at the demo's size too."""
    for seed in range(20):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        scene, world = scenes.random_scene(ours), toyworld.random_scene(theirs)
        assert scenes.photo_bytes(scene, ours) == toyworld.photo_bytes(world, theirs)
        assert [scenes.caption(scene, lang) for lang in ("zh", "en")] == [
            toyworld.caption(world, lang) for lang in ("zh", "en")
        ]
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        big = scenes.render(scene, ours, cli.EDGE)
        assert big.tobytes() == toyworld.render(world, theirs, cli.EDGE).tobytes()


def test_the_shipped_model_is_the_committed_toy_model():
    """ui/demo/toy-model is tests/fixtures/toy-model, file for file (the package may not read
    the tests' folder); retrained, both are committed again."""
    shipped = {p.name: p.read_bytes() for p in MODEL.iterdir()}
    committed = {p.name: p.read_bytes() for p in toyworld.COMMITTED.iterdir()}
    assert shipped == committed and "model.safetensors" in shipped
    assert sum(map(len, shipped.values())) < 1_000_000


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_says_it_is_a_demo(monkeypatch, demo, photo_library, lang):
    at = search(app(monkeypatch, demo / "library", locale=LOCALES[lang]), "两个红色的大圆")
    assert [i.value for i in at.info] == [WORDS[lang]["demo"]]
    assert tiles(at)[0] == (WORDS[lang]["band_strong"], "IMG_0082.jpg")  # two large red circles
    assert not app(monkeypatch, photo_library, locale=LOCALES[lang]).info  # a library of photos


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_photo_that_matches_nothing_is_not_told_to_try_other_words(monkeypatch, demo, lang):
    """A drawn picture uploaded with "only photos that match" on: nothing stands out enough to
    match (a picture alone is measured against the library), and the page says what fits a
    photo query; with words, other words."""
    words = WORDS[lang]
    rng = np.random.default_rng(100)
    picture = scenes.photo_bytes(scenes.random_scene(rng), rng, None, cli.EDGE)
    assert not Library.open(demo / "library").search(image=picture, matches_only=True)
    at = app(monkeypatch, demo / "library", locale=LOCALES[lang])
    at.toggle(key="matches_only").set_value(True).run()
    at.file_uploader[0].upload("drawn.jpg", picture, "image/jpeg").run()
    assert not at.exception and not tiles(at)
    assert [i.value for i in at.info] == [words["demo"], words["no_match_photo"]]
    search(at, "a cat")  # words the model never learnt, with the picture: the words decide
    assert [i.value for i in at.info] == [words["demo"], words["no_match"]]
    at.toggle(key="matches_only").set_value(False).run()
    assert tiles(at) and {band for band, _ in tiles(at)} <= {
        words[f"band_{b}"] for b in ("closest", "close", "far")
    }
    assert words["none_match"] in [i.value for i in at.info]


def test_altclip_demo_opens_the_page_on_it(monkeypatch, demo):
    """Without --build-only the command starts altclip-ui on the demo library (its own catalog,
    whatever ALTCLIP_CATALOG says)."""
    for name in ("ALTCLIP_PASSWORD", "ALTCLIP_LIBRARY", "ALTCLIP_CATALOG"):
        monkeypatch.setenv(name, "")  # what launch sets must not outlive the test
    monkeypatch.setenv("ALTCLIP_CATALOG", "postgresql+psycopg://someone@elsewhere/photos")
    started = []
    monkeypatch.setattr(os, "execv", lambda exe, cmd: started.append(cmd))
    cli.main([str(demo), "--port", "8765"])
    (cmd,) = started
    assert cmd[cmd.index("run") + 1] == str(launch.APP)
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    assert os.environ["ALTCLIP_LIBRARY"] == str((demo / "library").resolve())
    assert not os.environ.get("ALTCLIP_CATALOG")
