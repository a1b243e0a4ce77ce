"""Every part of the product with OpenAI CLIP and Chinese-CLIP checkpoints, as with AltCLIP: the
indexer, search by text and image, the page, and zero-shot labels from stored vectors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import altclip_core
from indexer import Indexer
from search import Library, SearchError
from search.cli import classify as classify_main
from tests import checkpoints
from tests.photos import GOOD, make_photos
from tests.test_parity import photo
from tests.test_ui import APP
from tests.test_ui import photos as photos_shown

LABELS = ["猫", "a dog", "海滩", "a red square"]


@pytest.fixture(scope="module", params=["clip", "chinese_clip"])
def family(request, tmp_path_factory):
    """(library folder, model folder, photos folder) for a tiny checkpoint of each family."""
    root = tmp_path_factory.mktemp(request.param)
    model = root / "model"
    if request.param == "clip":
        checkpoints.build_clip(model, "clip")
    else:
        checkpoints.build_chinese_clip(model)
    photos = make_photos(root / "photos")
    Indexer(library=root / "lib", model=str(model), exact_decode=True).run([photos])
    return root / "lib", model, photos


def test_index_and_search_with_any_family(family):
    library, model, photos = family
    lib = Library.open(library)
    assert lib.status().photos == GOOD
    text_tower = altclip_core.load(model, towers=("text",))
    query = text_tower.embed_text(["海边的日落"])[0].numpy()
    ids, vectors = (np.concatenate(a) for a in zip(*lib.catalog.vectors(), strict=True))
    best = ids[np.argsort(-(vectors @ query))[:5]]
    hits = lib.search("海边的日落", k=5)
    assert [h.id for h in hits] == best.tolist()
    target = photos / "2023" / "summer" / "beach.jpg"
    assert lib.search(image=altclip_core.open_image(target), k=1)[0].path == str(target)


def test_the_page_with_any_family(family, monkeypatch):
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(family[0]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input[0].input("sunset at the beach").run()
    assert not at.exception
    assert photos_shown(at) == GOOD  # in tiles, or folded into one as copies


def test_classify_a_catalogued_photo_by_its_stored_vector(family):
    library, model, photos = family
    target = photos / "2023" / "summer" / "beach.jpg"
    hit = Library.open(library, int8=False).search(image=altclip_core.open_image(target), k=1)[0]
    lib = Library.open(library, int8=False)  # a new one: classifying needs no image tower
    found = lib.classify(hit, LABELS, template=["a photo of {}", "一张{}的照片"])
    assert sorted(label for label, _ in found) == sorted(LABELS)
    assert [p for _, p in found] == sorted((p for _, p in found), reverse=True)
    assert sum(p for _, p in found) == pytest.approx(1, abs=1e-5)
    # the stored vector, no image tower: equal to the model classifying the image itself
    whole = altclip_core.load(model)
    image = altclip_core.open_image(target)
    expected = whole.classify([image], LABELS, ["a photo of {}", "一张{}的照片"])[0]
    assert dict(found) == pytest.approx(dict(zip(LABELS, expected.tolist(), strict=True)), abs=1e-4)
    assert "vision" not in lib.towers.loaded()
    assert lib.classify(str(target), LABELS) == lib.classify(hit.id, LABELS)


def test_classify_command_line(family, tmp_path, capsys):
    library, _, photos = family
    outside = tmp_path / "not-in-the-library.png"
    photo(120, 90, 77).save(outside)
    args = [str(photos / "2024" / "square.png"), str(outside), "--labels", *LABELS]
    assert classify_main([*args, "--library", str(library)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        str(photos / "2024" / "square.png"),
        str(outside),
    ]
    for line in lines:
        probabilities = [float(cell.rsplit(" ", 1)[1]) for cell in line.split("\t")[1:]]
        assert len(probabilities) == 4 and sum(probabilities) == pytest.approx(1, abs=2e-3)
    assert classify_main([os.devnull, "--labels", "x", "--library", str(library)]) == 1
    assert "not a regular file" in capsys.readouterr().err


def test_classify_refuses_what_it_cannot_do(photo_library):
    lib = Library.open(photo_library)
    with pytest.raises(SearchError, match="at least one label"):
        lib.classify(1, [])
    with pytest.raises(SearchError, match="where the label goes"):
        lib.classify(1, ["cat"], template="a photo")
    with pytest.raises(SearchError, match="no photo 99999"):
        lib.classify(99999, ["cat"])
    with pytest.raises(SearchError, match="the label is empty: type words, e.g. 猫 or 'a beach'"):
        lib.classify(1, ["cat", " "])
