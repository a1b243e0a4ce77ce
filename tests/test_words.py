"""Words in photos, wired in (issue 29): the reading pass of a run (indexer/reading.py), what the
catalog keeps of it (search/catalog_words.py), the lookup (search/words.py), on a few generated
photos with words (tests/textworld.py's fonts) and a few without, with the real PP-OCR weights."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import insert

pytest.importorskip("onnxruntime")
from indexer import Indexer  # noqa: E402
from indexer.errors import IndexerError  # noqa: E402
from indexer.ocr import model_folder  # noqa: E402
from search import words  # noqa: E402
from search.catalog import Catalog  # noqa: E402
from search.schema import Photo  # noqa: E402
from tests import textworld  # noqa: E402
from tests.conftest import new_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIGNS = {  # file name: (font, lines)
    "receipt.jpg": ("NotoSansCJK-Regular.ttc", ["发票号码 12345678", "合计 45.00"]),
    "cafe.jpg": ("DejaVuSans-Bold.ttf", ["Café Royal", "OPEN DAILY"]),
    "station.jpg": ("NotoSansCJK-Regular.ttc", ["北京南站", "出口 Exit"]),
}


def sign(lines: list[str], face: str) -> Image.Image:
    picture = Image.new("RGB", (1024, 768), (236, 230, 214))
    draw = ImageDraw.Draw(picture)
    for i, text in enumerate(lines):
        draw.text((80, 200 + 140 * i), text, font=textworld.font(face, 64), fill=(25, 25, 40))
    return picture


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    try:
        model_folder()
        textworld.fonts()
    except (IndexerError, textworld.MissingFonts) as e:
        pytest.skip(str(e))
    root = tmp_path_factory.mktemp("words-photos")
    for name, (face, lines) in SIGNS.items():
        sign(lines, face).save(root / name, quality=90)
    for i in range(2):  # without words
        (root / f"plain-{i}.jpg").write_bytes(textworld.photo(0, 300 + i, False).jpeg)
    (root / "beach").mkdir()
    Image.new("RGB", (640, 480), (200, 180, 120)).save(root / "beach" / "sunset.jpg")
    return root


@pytest.fixture(scope="module")
def library(photos, tiny, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("words-lib")
    Indexer(library=folder, model=str(tiny)).run([photos])
    return folder


def lines_of(library: Path, url: str | None = None) -> dict[str, list[tuple]]:
    catalog = Catalog.open(library, url)
    with catalog.engine.connect() as c:
        rows = c.exec_driver_sql(
            "SELECT p.path, w.text, w.box FROM word_lines w JOIN photos p ON p.id = w.photo"
            " WHERE w.box != 'null' ORDER BY w.id"  # not the file names
        ).all()
    found: dict[str, list[tuple]] = {}
    for path, text, box in rows:
        found.setdefault(Path(path).name, []).append((text, box))
    return found


def readings(library: Path) -> int:
    with sqlite3.connect(library / "catalog.sqlite") as db:
        return db.execute("SELECT count(*) FROM readings").fetchone()[0]


def vectors(library: Path) -> dict[str, bytes]:
    with sqlite3.connect(library / "catalog.sqlite") as db:
        return dict(db.execute("SELECT path, embedding FROM photos"))


def test_the_run_reads_the_words_with_their_boxes(library):
    found = lines_of(library)
    said = {name: [words.fold(t) for t, _ in rows] for name, rows in found.items()}
    assert "发票号码12345678" in said["receipt.jpg"]
    assert any("royal" in t for t in said["cafe.jpg"])
    assert not any(n.startswith("plain") for n in found), "no words where there are none"
    assert readings(library) == 6, "every photo read once, with words or not"
    for rows in found.values():
        for _, box in rows:
            corners = json.loads(box)
            assert len(corners) == 4 and all(0 <= v <= 1 for c in corners for v in c)


def test_a_second_run_reads_nothing_again(library, photos, tiny, monkeypatch):
    import indexer.reading

    read = []
    monkeypatch.setattr(indexer.reading, "read_photo", lambda *a: read.append(a))
    Indexer(library=library, model=str(tiny)).run([photos])
    assert read == []


def test_no_words_then_words_without_reembedding(photos, tiny, tmp_path, monkeypatch):
    Indexer(library=tmp_path, model=str(tiny), words=False).run([photos])
    assert readings(tmp_path) == 0
    before = vectors(tmp_path)
    summary = Indexer(library=tmp_path, model=str(tiny)).run([photos])
    assert summary.added == summary.updated == 0 and vectors(tmp_path) == before
    assert readings(tmp_path) == 6 and "receipt.jpg" in lines_of(tmp_path)


def test_a_stop_while_reading_ends_it_after_the_batch_the_next_run_reads_the_rest(
    photos, tiny, tmp_path, monkeypatch
):
    import indexer.reading

    Indexer(library=tmp_path, model=str(tiny), words=False).run([photos])
    stop, read = threading.Event(), indexer.reading.read_photo

    def read_then_stopped(*args):
        stop.set()  # Ctrl-C while the first batch is read
        return read(*args)

    monkeypatch.setattr(indexer.reading, "BATCH", 2)
    monkeypatch.setattr(indexer.reading, "read_photo", read_then_stopped)
    Indexer(library=tmp_path, model=str(tiny)).run([photos], stop=stop)
    assert readings(tmp_path) == 2
    monkeypatch.setattr(indexer.reading, "read_photo", read)
    Indexer(library=tmp_path, model=str(tiny)).run([photos])
    assert readings(tmp_path) == 6


def test_kill_while_reading_then_the_rerun_finishes(photos, tiny, tmp_path, library):
    cmd = [sys.executable, "-m", "indexer", str(photos), "--library", str(tmp_path)]
    cmd += ["--model", str(tiny)]
    subprocess.run([*cmd, "--no-words"], cwd=ROOT, check=True, capture_output=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.5)  # the model checked, the reader loaded, reading (or done)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert subprocess.run(cmd, cwd=ROOT, capture_output=True).returncode == 0
    assert readings(tmp_path) == 6
    assert lines_of(tmp_path) == lines_of(library)


def test_fold():
    assert words.fold("發票號碼") == "发票号码"
    assert words.fold("ＣＡＦÉ  Royal") == "caferoyal"
    assert words.fold("Straße") == "strasse"
    assert words.fold('"Royal" “南站”') == "royal南站"


@pytest.mark.parametrize(
    "query, name",
    [
        ("发票号码", "receipt.jpg"),
        ("發票號碼", "receipt.jpg"),  # traditional
        ("发栗号码", "receipt.jpg"),  # one OCR slip
        ("ｃａｆé", "cafe.jpg"),  # full width, accent
        ("ROYAL", "cafe.jpg"),
        ('"Royal"', "cafe.jpg"),  # quotes: these words
        ("南站", "station.jpg"),  # a two-character word: one bigram
        ("beach", "sunset.jpg"),  # a folder's name
    ],
)
def test_the_lookup_finds(library, query, name):
    catalog = Catalog.open(library)
    paths = {p.id: Path(p.path).name for p in catalog.photos(list(range(1, 100))).values()}
    found = words.lookup(catalog, query, 10)
    assert found and paths[found[0][0]] == name, [(paths[i], w) for i, w in found]
    if name != "sunset.jpg":
        assert found[0][1].box is not None and len(found[0][1].box) == 4


def test_the_lookup_misses(library):
    catalog = Catalog.open(library)
    assert words.lookup(catalog, "收据", 10) == []
    assert words.lookup(catalog, "发号", 10) == [], "a short word allows no slip"


def test_removed_and_changed_photos_lose_their_words(photos, tiny, tmp_path):
    import shutil

    root = tmp_path / "p"
    shutil.copytree(photos, root)
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([root])
    (root / "cafe.jpg").unlink()
    sign(["Hello World"], "DejaVuSans-Bold.ttf").save(root / "receipt.jpg", quality=90)
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([root])
    found = lines_of(tmp_path / "lib")
    assert "cafe.jpg" not in found
    assert [words.fold(t) for t, _ in found["receipt.jpg"]] == ["helloworld"]
    assert words.lookup(Catalog.open(tmp_path / "lib"), "发票号码", 10) == []


def test_moved_renamed_and_copied_photos_keep_the_words_without_a_reading(
    photos, tiny, tmp_path, monkeypatch
):
    """New rows whose bytes were read before get those words, and their own names."""
    import shutil

    import indexer.reading

    root = tmp_path / "p"
    shutil.copytree(photos, root)
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([root])
    before = lines_of(tmp_path / "lib")
    read = []
    monkeypatch.setattr(indexer.reading, "read_photo", lambda *a: read.append(a))
    (root / "signs").mkdir()
    (root / "receipt.jpg").rename(root / "signs" / "receipt.jpg")  # moved
    (root / "cafe.jpg").rename(root / "cafe-2024.jpg")  # renamed
    shutil.copy(root / "station.jpg", root / "signs" / "station-copy.jpg")  # a copy
    Indexer(library=tmp_path / "lib", model=str(tiny)).run([root])
    after = lines_of(tmp_path / "lib")
    assert read == []
    assert after["receipt.jpg"] == before["receipt.jpg"]
    assert after["cafe-2024.jpg"] == before["cafe.jpg"]
    assert after["station-copy.jpg"] == after["station.jpg"] == before["station.jpg"]
    catalog = Catalog.open(tmp_path / "lib")
    assert [h for h in words.lookup(catalog, "cafe-2024", 10)], "found by its new name"
    assert Path(catalog.path_of(words.lookup(catalog, "12345678", 10)[0][0])).parent.name == "signs"


def test_a_schema_3_catalog_migrates(library, tmp_path):
    import shutil

    shutil.copytree(library, tmp_path / "old")
    with sqlite3.connect(tmp_path / "old" / "catalog.sqlite") as db:
        for table in ("readings", "word_lines", "word_grams"):
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    catalog = Catalog.open(tmp_path / "old")
    assert len(catalog.needing_reading(0, 100)) == 6
    with sqlite3.connect(tmp_path / "old" / "catalog.sqlite") as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == ("4",)


def test_postgresql_lookup(postgres_url, photos, tiny, tmp_path):
    url = new_database(postgres_url)  # its own: other tests write to the server too
    Indexer(library=tmp_path, model=str(tiny), catalog_url=url).run([photos])
    catalog = Catalog.open(tmp_path, url)
    found = words.lookup(catalog, "發票號碼", 10)
    assert [Path(catalog.photos([i])[i].path).name for i, _ in found] == ["receipt.jpg"]
    assert words.lookup(catalog, "royal", 10)


def test_the_search_fuses_words_with_meaning(library, photos):
    from search.library import Library

    lib = Library.open(library)
    hits = lib.search("发票号码", k=3)
    found = [h for h in hits if h.words is not None]
    assert [Path(h.path).name for h in found] == ["receipt.jpg"]
    assert found[0].match is True and "12345678" in found[0].words.text
    assert len(found[0].words.box) == 4
    beach = lib.search("发票号码", k=3, folder=str(photos / "beach"))
    assert beach and all(h.words is None for h in beach), "the filters apply to words hits"
    assert lib.search("發票號碼", k=1)[0].words is not None, "a words hit always surfaces"
    off = lib.search("发票号码", k=3, negative="合计")
    assert all(h.words is None for h in off), "its words hold the negative"
    assert lib.search("发票号码", image=None, k=3, before="2000-01-01") == []


def test_the_command_prints_the_words(library, capsys):
    from search.cli import main

    assert main(["发票号码", "--library", str(library), "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = [line.split("\t") for line in lines]
    assert any(len(f) == 3 and "发票号码" in words.fold(f[2]) for f in shown), lines
    assert main(["发票号码", "--library", str(library), "-k", "2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    said = [r["words"] for r in rows if r["words"]]
    assert said and "发票号码" in words.fold(said[0]["text"])
    assert len(said[0]["box"]) == 4 and all(len(p) == 2 for p in said[0]["box"])


def test_the_viewer_outlines_the_words():
    from ui.viewer import outlined

    photo = outlined(
        Image.new("RGB", (400, 300), "white"), ((0.25, 0.5), (0.75, 0.5), (0.75, 0.6), (0.25, 0.6))
    )
    assert photo.getpixel((200, 150)) != (255, 255, 255), "the box's top edge drawn"
    assert photo.getpixel((200, 165)) == (255, 255, 255), "inside left as it was"


BOX = [[0.1, 0.4], [0.9, 0.4], [0.9, 0.5], [0.1, 0.5]]


@pytest.fixture(params=["sqlite", "postgresql"])
def words_url(request) -> str | None:
    """No URL (SQLite in the library folder), then a new PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return new_database(request.getfixturevalue("postgres_url"))


def named_catalog(folder: Path, url: str | None, photos: int, read: dict[int, list[str]]):
    """A catalog of `photos` photos, IMG_0000001.jpg on, each name a line as the indexer stores
    it, and in some the lines `read` (confidence 0.9): no photo is read, no model run."""
    from indexer.reading import named

    catalog = Catalog.open(folder, url)
    paths = {i: f"/photos/{i // 1000:04d}/IMG_{i:07d}.jpg" for i in range(1, photos + 1)}
    rows = [
        dict(id=i, path=p, size=1, mtime_ns=1, status="ok", indexed_at=0.0)
        for i, p in paths.items()
    ]
    with catalog.engine.begin() as c:
        c.execute(insert(Photo), rows)
    catalog.store_readings(
        [
            (i, "0" * 64, None, [named(p)] + [(t, BOX, 0.9) for t in read.get(i, [])])
            for i, p in paths.items()
        ]
    )
    return catalog


def test_a_file_name_among_names_sharing_its_prefix(words_url, tmp_path):
    # 2500 names sharing "IMG_000", more than a half's CANDIDATES: the name, a photo whose words
    # say it, one whose words say it with an O for a 0 (a slip); no other name (a name has no
    # slip: IMG_0002344 and IMG_0002346 are one edit away)
    read = {700: ["IMG_0002345"], 1900: ["IMG_O002345"]}
    catalog = named_catalog(tmp_path, words_url, 2500, read)
    found = words.lookup(catalog, "IMG_0002345", 10)
    assert [i for i, _ in found] == [700, 2345, 1900], "exact (words, then the name), then a slip"
    assert found[1][1] == words.WordsFound("0002/IMG_0002345", None)
    assert found[2][1].text == "IMG_O002345" and len(found[2][1].box) == 4
    assert [i for i, _ in words.lookup(catalog, "img_000240", 20)] == list(range(2400, 2410))


def test_a_slip_among_many_photos_holding_its_bigrams(words_url, tmp_path):
    # 号码 in 1400 photos' words and 发票 in 600, each more than a half's CANDIDATES; the
    # phrase in one (traditional), with its last character slipped in another
    read = {i: [f"电话号码 138{i:08d}"] for i in range(1, 1401)}
    read |= {i: [f"发票 {i}"] for i in range(1401, 2001)}
    read |= {2300: ["发票号玛 88"], 2400: ["發票號碼 99"]}
    catalog = named_catalog(tmp_path, words_url, 2500, read)
    found = words.lookup(catalog, "发票号码", 10)
    assert [(i, w.text) for i, w in found] == [(2400, "發票號碼 99"), (2300, "发票号玛 88")]
    assert [i for i, _ in words.lookup(catalog, "电话号码", 2000)] == list(range(1, 1401))


def test_near_is_one_edit_anywhere():
    def brute(needle: str, line: str) -> int | None:  # every window, every one-edit spelling
        if needle in line:
            return 0
        edits = {
            needle[:i] + c + needle[j:]
            for i in range(len(needle) + 1)
            for j in (i, i + 1)
            for c in "abcd"
        }
        edits |= {needle[:i] + needle[i + 1 :] for i in range(len(needle))}
        return 1 if len(needle) >= words.SLIP_FROM_LATIN and any(e in line for e in edits) else None

    rng = random.Random(7)
    for _ in range(3000):
        needle = "".join(rng.choices("abc", k=rng.randint(2, 7)))
        line = "".join(rng.choices("abcd", k=rng.randint(0, 12)))
        assert words.near(needle, line) == brute(needle, line), (needle, line)


def test_a_slip_needs_four_characters_with_chinese_and_six_without():
    # A word of 4-5 letters is one edit from too many others: on the text world, "free" was
    # found in "green" and "today" in "birthday" (15 of 1014 words hits wrong at 4)
    assert words.near("free", "green") is None and words.near("today", "birthday") is None
    assert words.near("nobody", "nob0dy") == 1 and words.near("sunset", "sunsat cafe") == 1
    assert words.near("发票号码", "发票号玛") == 1 and words.near("号码ab", "号玛ab") == 1
    assert words.near("发票号", "发栗号") is None


def test_read_again_a_photos_old_words_and_their_bigrams_go(words_url, tmp_path):
    from sqlalchemy import func, select

    from search.schema import WordGram

    catalog = named_catalog(tmp_path, words_url, 3, {1: ["发票号码 12"], 2: ["发票 34"]})
    catalog.store_readings([(1, "1" * 64, None, [("欢迎光临", BOX, 0.9)])])
    assert [i for i, _ in words.lookup(catalog, "发票", 10)] == [2]
    assert [i for i, _ in words.lookup(catalog, "欢迎光临", 10)] == [1]
    with catalog.engine.connect() as db:
        held = db.scalar(select(func.count()).where(WordGram.photo == 1))
    assert held == len(words.grams("欢迎光临")), "no bigram of the old words or name is left"
