"""The per-query relevance cut-off (search.relevance) on vectors whose truth is known by
construction; tests/test_toyworld.py measures it with a trained model. Text queries are measured
by generic captions (`Captions`), image queries by a background sample."""

from __future__ import annotations

import numpy as np
import pytest

from search import relevance
from search.language import zh
from search.relevance import (
    MIN_BACKGROUND,
    Background,
    Captions,
    matches,
    text_matches,
    yardsticks,
)

D = 64


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def world():
    """1000 photos of nothing in particular and 30 of a subject (direction u), 30 of the subject
    with a detail (u + w), all sharing a common direction c, as embeddings of one model do."""
    rng = np.random.default_rng(0)
    c, u, w, absent = np.linalg.qr(rng.normal(size=(D, 4)))[0].T
    noise = rng.normal(size=(1060, D)) / np.sqrt(D)
    vectors = 0.6 * c + 0.4 * noise
    vectors[1000:] += 0.6 * u
    vectors[1030:] += 0.9 * w
    return unit(vectors).astype(np.float32), c, u, w, absent


def test_the_cut_follows_the_query_not_a_fixed_score(world):
    """A text-like query (far from everything) and an image-like one (near everything) both
    match exactly the subject's photos, though the first one's matches score lower than the
    second one's non-matches: no fixed min_score could do both."""
    vectors, c, u, _, _ = world
    vectors = vectors[:1030]  # the subject alone
    background = Background.fit(vectors)
    truth = np.arange(len(vectors)) >= 1000
    cuts = []
    for q in [u, unit(c + u)]:
        scores = vectors @ q
        assert (matches(q, scores, background) == truth).all()
        cuts.append((scores[truth].min(), scores[~truth].max()))
    (low_match, _), (_, high_other) = cuts
    assert low_match < high_other


def test_a_subject_the_library_lacks_matches_nothing(world):
    vectors, _, _, _, absent = world
    background = Background.fit(vectors)
    assert not matches(absent, vectors @ absent, background).any()


def test_photos_that_show_only_part_of_the_query_are_left_out(world):
    """For "the subject with the detail", the 30 photos that show both match, the 30 that show the
    subject alone (they score well above the rest too) do not."""
    vectors, _, u, w, _ = world
    q = unit(u + w)
    decided = matches(q, vectors @ q, Background.fit(vectors))
    assert decided[1030:].all() and not decided[:1030].any()


def test_the_leaders_set_the_best_standing(world):
    """Photos a filter kept beside the library's best (the leaders) are measured by the best of
    the leaders alone: one standing higher than all of them changes no other photo's decision."""
    scores, sticks = np.array([0.5, 0.30, 0.28, 0.1]), np.full(4, 0.3)  # standing 0.2, 0, ...
    leaders = np.array([False, True, True, True])
    assert text_matches(scores, sticks, leaders=leaders).tolist() == [True, True, True, False]
    assert text_matches(scores, sticks).tolist() == [True, False, False, False]
    vectors, _, u, _, _ = world
    background, scores = Background.fit(vectors), vectors @ u
    leaders = np.arange(len(vectors)) < 1000  # without the subject's photos
    decided = matches(u, scores, background, leaders=leaders)
    assert (decided[:1000] == matches(u, scores[:1000], background)).all()
    assert decided[1000:].all()


def test_top_k_scores_get_the_same_decisions_as_all_of_them(world):
    vectors, _, u, _, _ = world
    background = Background.fit(vectors)
    scores = vectors @ u
    top = np.argsort(-scores)[:20]
    assert (matches(u, scores[top], background) == matches(u, scores, background)[top]).all()
    assert matches(u, scores[:0], background).shape == (0,)


def test_an_image_querys_copies_match_it(world):
    """A picture whose copies the library holds: the copies match, however little the picture
    stands out of the library, and the rest is measured by the best photo that is no copy."""
    vectors, c, _, _, _ = world
    picture = vectors[5]  # one of the photos of nothing in particular
    scores = vectors @ picture
    decided = matches(picture, scores, Background.fit(vectors))
    assert decided[5] and (decided == (scores >= relevance.COPY)).all()


def test_too_small_a_library_is_left_undecided(world):
    vectors, _, u, _, _ = world
    small = Background.fit(vectors[: MIN_BACKGROUND - 1])
    assert matches(u, vectors @ u, small) is None


def test_the_background_is_a_fixed_sample():
    vectors = unit(np.random.default_rng(1).normal(size=(5000, D))).astype(np.float32)
    a, b = Background.fit(vectors, size=300), Background.fit(vectors, size=300)
    assert len(a) == 300 and (a.vectors == b.vectors).all()
    assert len(Background.fit(vectors[:100], size=300)) == 100
    split = Background.fit([vectors[:3000], vectors[3000:]], size=300)  # a base and its delta
    assert (split.vectors == a.vectors).all()


@pytest.fixture(scope="module")
def concepts():
    """Photos of one of 8 concepts each (100 per concept, minus concept 7: the library has none),
    every vector sharing a common direction; a caption of each concept in two languages (the
    Chinese one a little off the English one), as the embeddings of one model are."""
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.normal(size=(D, 10)))[0].T
    common, concept, off = basis[0], basis[1:9], basis[9]
    shown = np.repeat(np.arange(7), 100)
    photos = 0.5 * common + 0.5 * concept[shown] + 0.25 * rng.normal(size=(700, D)) / np.sqrt(D)
    en = unit(0.3 * common + concept)
    zh = unit(0.3 * common + concept + 0.2 * off)
    return unit(photos).astype(np.float32), shown, {"en": en, "zh": zh}


def test_a_text_query_matches_the_photos_its_words_describe_best(concepts):
    """A query as plain as a caption, and one with a word more (a little off the caption), match
    their concept's photos, in either language; a concept the library lacks matches nothing."""
    photos, shown, captions = concepts
    for c in range(7):
        for language in ("en", "zh"):
            sticks = yardsticks(photos, captions[language])
            for query in (captions[language][c], unit(captions[language][c] + 0.1 * photos[0])):
                decided = text_matches(photos @ query, sticks)
                assert (decided == (shown == c)).all(), (c, language)
    absent = captions["en"][7]
    assert not text_matches(photos @ absent, yardsticks(photos, captions["en"])).any()
    assert text_matches(np.zeros(0), np.zeros(0)).shape == (0,)


def test_the_yardstick_is_the_best_caption_in_the_query_language():
    both = Captions({"en": ["a dog"], "zh": ["一只狗"]})
    for text, language in (
        ("海边的日落", "zh"),
        ("夕日の海", "zh"),  # Japanese: the nearest these captions have is Chinese
        ("ゆうひ", "zh"),  # kana alone too: Japanese, not English
        ("고양이", "en"),
        ("sunset", "en"),
        ("coucher", "en"),
        ("2023", "en"),
    ):
        assert both.language(text) == language
    three = Captions({"en": ["a dog"], "zh": ["一只狗"], "ja": ["犬"]})
    assert three.language("ゆうひ") == three.language("夕日の海") == "ja"
    assert three.language("海边") == "zh"
    for only in ("en", "zh"):  # a model with captions in one language measures all by them
        one = Captions({only: ["x"]})
        assert one.language("海边") == one.language("beach") == only


def test_a_model_folder_brings_its_own_captions(tmp_path):
    """A model of another world than photos (the toy one) names its world's plain things in its
    folder's captions.json; any other model is measured by the package's captions."""
    import json

    (tmp_path / "captions.json").write_text(json.dumps({"en": ["a star"], "zh": ["星星", "圆"]}))
    assert Captions.read(tmp_path).texts == {"en": ["a star"], "zh": ["星星", "圆"]}
    default = Captions.read(tmp_path / "elsewhere").texts
    assert default == json.loads(relevance.CAPTIONS.read_text(encoding="utf-8"))
    assert set(default) == {"en", "zh"} and len(default["en"]) == len(default["zh"]) > 100


@pytest.mark.parametrize(
    "written",
    ['{"en": "a star"}', "{}", '{"en": []}', '["a star"]', "{", '{"en": [1]}'],
)
def test_a_damaged_captions_file_says_which_file(tmp_path, written):
    (tmp_path / "captions.json").write_text(written)
    with pytest.raises(ValueError, match="captions.json"):
        Captions.read(tmp_path)


def test_a_photo_a_neighbouring_number_describes_better_is_no_match(concepts):
    """A query that describes two concepts' photos alike ("two dogs" the photos of two dogs and
    of three, as these models count) matches both, at thresholds that let both through; with its
    rival ("three dogs", the other concept's caption) only the photos it describes better than
    its rival does."""
    photos, shown, captions = concepts
    query = unit(captions["en"][0] + captions["en"][1])
    scores, sticks = photos @ query, yardsticks(photos, captions["en"])
    loose = dict(answered=-0.2, spread=0.2)
    assert (text_matches(scores, sticks, **loose) == np.isin(shown, [0, 1])).all()
    rivals = photos @ captions["en"][1]
    assert (text_matches(scores, sticks, **loose, rivals=rivals) == (shown == 0)).all()


@pytest.mark.parametrize(
    "text, rivals",
    [
        ("two red circles", ["one red circles", "three red circles"]),
        (
            "Three dogs and two cats",
            ["Two dogs and two cats", "Four dogs and two cats", "Three dogs and one cats"]
            + ["Three dogs and three cats"],
        ),
        ("ten cats", ["nine cats"]),
        ("two of the dogs", ["one of the dogs", "three of the dogs"]),
        ("三只猫", ["两只猫", "四只猫"]),
        ("二个人", ["一个人", "三个人"]),
        ("十个苹果", ["九个苹果"]),
        ("三颗星星", ["两颗星星", "四颗星星"]),
        ("兩個人", ["一個人", "三個人"]),
        ("two two two", ["one two two", "three two two", "two one two", "two three two"]),
        ("one dog", []),  # one: as often "a" (一只猫) or a pronoun (the red one) as a count
        ("一只猫", []),
        ("the red one on the left", []),
        ("十二个人", []),  # twelve: not a number of one numeral
        ("第二个", []),  # an ordinal
        ("two-tone", []),
        ("a dog", []),
        ("一起去海边", []),
        ("2 dogs", []),
    ],
)
def test_a_number_has_its_neighbours_as_rivals(text, rivals):
    assert relevance.recounted(text) == rivals


def test_a_languages_table_brings_its_number_words():
    """Rule 3 reads each language's numbers and measure words from its table: a table for a
    language the code has never seen gives its counts rivals, with no change to the rule."""
    import types

    ja = types.SimpleNamespace(
        NUMBERS=tuple("一二三四五六七八九十"),
        NUMBER_ALIASES={},
        NUMERALS="〇一二三四五六七八九",
        NUMERAL_ALIASES={},
        TEN="十",
        LARGER_NUMERALS="百千万",
        ORDINAL_PREFIXES=("第",),
        MEASURE_WORDS=("匹", "人", "枚"),
    )
    rules = relevance.number_rules({"ja": ja})
    assert relevance.recounted("三匹の猫", rules) == ["二匹の猫", "四匹の猫"]
    assert relevance.recounted("十二匹", rules) == relevance.recounted("三つ", rules) == []
    assert relevance.recounted("三只猫", rules) == []  # not a measure word of this table
    both = relevance.number_rules({"zh": zh, "ja": ja})  # both read 三匹: once
    assert relevance.recounted("三匹の猫", both) == ["二匹の猫", "四匹の猫"]  # Japanese text
    assert relevance.recounted("三匹马", both) == ["两匹马", "四匹马"]  # Chinese text


def test_thresholds_come_from_the_model_folder(tmp_path):
    """A model folder's relevance.json sets the thresholds it was calibrated with (some or all);
    without one, the documented defaults."""
    from search.relevance import Thresholds

    default = Thresholds.from_folder(tmp_path)
    assert default == Thresholds.from_folder(None) == Thresholds()
    assert (default.answered, default.spread, default.z, default.rho) == (
        relevance.ANSWERED,
        relevance.SPREAD,
        relevance.Z,
        relevance.RHO,
    )
    (tmp_path / "relevance.json").write_text('{"answered": -0.05, "z": 3}')
    own = Thresholds.from_folder(tmp_path)
    assert own == Thresholds(answered=-0.05, spread=relevance.SPREAD, z=3.0, rho=relevance.RHO)


@pytest.mark.parametrize(
    "written",
    ['{"answer": 0.1}', '{"z": "4"}', '{"z": true}', '{"rho": NaN}', "[0.1]", "{"],
)
def test_a_damaged_thresholds_file_says_which_file(tmp_path, written):
    (tmp_path / "relevance.json").write_text(written)
    with pytest.raises(ValueError, match="relevance.json"):
        relevance.Thresholds.from_folder(tmp_path)
