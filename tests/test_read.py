"""Reading words in photos (indexer/ocr.py, indexer/read.py) on a few generated images, with the
real PP-OCR weights of the rapidocr-onnxruntime wheel: Chinese and English lines, a turned line,
nothing from blank and noise, what is cut on a page of 500 lines and a 100-megapixel photo, and
neither cv2 nor rapidocr_onnxruntime imported."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("onnxruntime")
from indexer.errors import IndexerError  # noqa: E402
from indexer.ocr import Reader, model_folder  # noqa: E402
from indexer.read import needs_reading, read_photo  # noqa: E402
from tests import textworld  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reader() -> Reader:
    try:
        model_folder()
        textworld.fonts()
    except (IndexerError, textworld.MissingFonts) as e:
        pytest.skip(str(e))
    return Reader()


def line(text: str, face: str, size: int = 44, turn: float = 0.0) -> Image.Image:
    """One line of dark text on a light photo-sized ground, turned `turn` degrees."""
    picture = Image.new("RGB", (1024, 768), (236, 230, 214))
    face = textworld.font(face, size)
    ImageDraw.Draw(picture).text((60, 340), text, font=face, fill=(25, 25, 40))
    return picture.rotate(turn, Image.BICUBIC, fillcolor=(236, 230, 214))


def accuracy(truth: str, lines) -> float:
    edits, chars = textworld.char_errors([truth], [x.text for x in lines])
    return 1 - edits / chars


@pytest.mark.parametrize(
    "text, face",
    [
        ("海边的日落咖啡店营业时间9:00-21:00", "NotoSansCJK-Regular.ttc"),
        ("发票号码12345678 合计 56.80", "NotoSerifCJK-Regular.ttc"),
        ("Sunset Cafe - open daily", "DejaVuSerif.ttf"),
    ],
)
def test_a_line_is_read(reader, text, face):
    read = reader.read(line(text, face))
    assert accuracy(text, read.lines) >= 0.9, read.lines
    assert read.cut is None
    for x in read.lines:  # where it was drawn: left at 60, the line's middle near 340 + 22
        assert 40 <= min(p[0] for p in x.box) and max(p[1] for p in x.box) <= 420


def test_a_turned_line_is_read_along_its_box(reader):
    text = "Harbor Books open until 9pm"
    read = reader.read(line(text, "DejaVuSans.ttf", turn=10))
    assert accuracy(text, read.lines) >= 0.9, read.lines
    (tl, tr, _, _), *_ = [x.box for x in read.lines if len(x.text) > 10]
    slope = np.degrees(np.arctan2(tl[1] - tr[1], tr[0] - tl[0]))  # counter-clockwise, as rotate
    assert 7 <= slope <= 13  # the box turned with the line: cropped along it, not its bounds


def test_blank_and_noise_say_nothing_and_cost_a_glance(reader):
    blank = Image.new("RGB", (1600, 1200), (128, 128, 128))  # the glance sees 1/4 the pixels
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), np.uint8))
    for picture in (blank, noise):
        assert not needs_reading(reader, picture)
        assert read_photo(reader, picture).lines == []
        assert reader.read(picture).lines == []  # the full look agrees: nothing is there
    glance = min(_seconds(read_photo, reader, blank) for _ in range(2))
    look = min(_seconds(reader.read, blank) for _ in range(2))
    assert glance < look / 2, (glance, look)


def test_a_page_of_500_lines_is_cut_and_says_so(reader):
    page = Image.new("RGB", (1600, 1600), "white")
    draw, face = ImageDraw.Draw(page), textworld.font("DejaVuSans.ttf", 20)
    for i in range(500):
        draw.text((12 + 160 * (i % 10), 8 + 32 * (i // 10)), f"No{i:03d}", font=face, fill="black")
    read = reader.read(page)
    assert read.cut and "largest read" in read.cut, read.cut
    found = int(read.cut.split(" lines found")[0].split()[-1])
    assert found > reader.max_lines and len(read.lines) <= reader.max_lines
    texts = {x.text for x in read.lines}
    assert len(texts & {f"No{i:03d}" for i in range(500)}) >= len(read.lines) * 0.8


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_100_megapixel_photo_is_decoded_small_and_says_so(reader, tmp_path):
    big = Image.new("L", (10_000, 10_000), 225)
    face = textworld.font("DejaVuSans-Bold.ttf", 900)
    ImageDraw.Draw(big).text((400, 4000), "GRAND HOTEL", font=face, fill=20)
    path = tmp_path / "big.jpg"
    big.save(path, quality=40)
    del big
    with Image.open(path) as photo:
        read = reader.read(photo)
        # Drafted before decoding: at the smallest DCT scale still >= the cap (1/4), not 100 MP.
        assert max(photo.size) < 2 * reader.max_side
    assert read.cut and "10000x10000" in read.cut, read.cut
    assert accuracy("GRAND HOTEL", read.lines) >= 0.9, read.lines
    (tl, _, br, _), *_ = [x.box for x in read.lines]
    assert tl[0] < 1000 and br[0] > 5000  # in the photo's own pixels, not the decoded ones


def test_neither_cv2_nor_rapidocr_is_imported():
    code = (
        "import sys\n"
        "from PIL import Image\n"
        "from indexer.ocr import Reader\n"
        "from indexer.read import read_photo\n"
        "read_photo(Reader(), Image.new('RGB', (640, 480), 'white'))\n"
        "banned = ('cv2', 'rapidocr_onnxruntime')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def test_the_text_world_is_the_same_for_a_seed():
    try:
        textworld.fonts()
    except textworld.MissingFonts as e:
        pytest.skip(str(e))
    again = textworld.photo(0, 1, True)
    assert again == textworld.photo(0, 1, True) and again.lines  # a receipt, same bytes
    assert textworld.photo(1, 1, True).jpeg != again.jpeg
    assert "发票号码" in "".join(textworld.photo(0, 11, True).lines)  # a Chinese receipt
