"""A text world: photos with words in them and photos without, each with what it says, so that
reading words (indexer/ocr.py, indexer/read.py) can be measured without a labelled data set.

    python -m tests.textworld DIR [--seed 0] [--text 300] [--plain 300]
        writes DIR/*.jpg and DIR/truth.json ({name: {"lines", "kind", "lang", "words"}})

Photos with words, in Chinese, English or both: signs (a shop's name and a line under it),
receipts (a shop, a date, items and prices in two columns, a total, 「发票号码12345678」),
chat screenshots (bubbles left and right, a name, the time), memes (outlined captions over a
picture) and stamps (a camera's date or a small watermark in a corner: the small print a
cheap look may miss). Photos without: the toy world's shapes (tests/toyworld.py), skies,
brick walls, foliage, bokeh, blank walls and static; the same pictures but static (no photo
has white noise behind its words) are the grounds of the photos with words, which are blurred
a little in 3 of 10 (a shaken camera). Every photo: 1024-1600 pixels on its long side (a
screenshot 720 wide), words rotated up to ±15° (screenshots: none), JPEG quality 40-95.
Deterministic by seed: photo i depends on (seed, i) only.

Fonts: Noto Sans CJK and Noto Serif CJK, Regular and Bold (Debian/Ubuntu: fonts-noto-cjk),
and DejaVu Sans, Sans Bold, Serif and Sans Mono (fonts-dejavu-core); found under the usual
font folders or TEXTWORLD_FONTS. Without them `fonts()` raises MissingFonts, which names them
and the command that installs them (tests skip on it).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests import toyworld

CJK_FACES = ("NotoSansCJK-Regular", "NotoSansCJK-Bold", "NotoSerifCJK-Regular", "NotoSerifCJK-Bold")
CJK = {f"{face}.ttc": 2 for face in CJK_FACES}  # file: index of its Simplified Chinese face
LATIN = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
INSTALL = "apt-get install -y fonts-noto-cjk fonts-dejavu-core"
KINDS = ("sign", "receipt", "chat", "meme", "stamp")
GROUNDS = ("shapes", "sky", "bricks", "foliage", "bokeh", "wall", "static")

# Words as one string per group, "|" between items, so that a group reads as one line.
SHOPS_ZH = "海边|老街|幸福|阳光|东方|红星|金沙|快乐|平安|明月|春风|湖畔".split("|")
TRADES_ZH = "咖啡店|面馆|超市|药房|水果店|书店|理发店|酒店|火锅店|茶馆".split("|")
UNDER_ZH = "营业时间9:00-21:00|欢迎光临|今日特价|全场八折|免费停车|地址:人民路88号".split("|")
ITEMS_ZH = "拿铁咖啡|牛肉面|矿泉水|苹果|面包|酸奶|鸡蛋|牛奶|西红柿|绿茶".split("|")
CHAT_ZH = (
    "明天几点见面?|我们在海边的咖啡店等你|好的,没问题|周末一起去爬山吧|生日快乐!|照片拍得真好看"
    "|下午三点开会|到家了吗?|今天的晚饭很好吃|记得带雨伞"
).split("|")
MEME_ZH = "这就是我周一的样子|我太难了|别问,问就是加班|我的快乐来得太突然|躺平了".split("|")
STAMP_ZH = "摄于杭州西湖|摄于北京故宫|张伟摄影".split("|")
SHOPS_EN = (
    "Sunset Cafe|Harbor Books|Green Market|Lucky Noodle House|Blue Moon Bakery|City Pharmacy"
    "|Corner Deli|Golden Hotel|River Tea Room"
).split("|")
UNDER_EN = "OPEN DAILY 9AM-9PM|Welcome|Today's Special|20% OFF|Free Parking|Tel 555-0123".split("|")
ITEMS_EN = "Latte|Bagel|Orange Juice|Green Tea|Muffin|Salad|Water|Soup".split("|")
CHAT_EN = (
    "See you at 7?|Running late, sorry|Happy birthday!|Where did you park?|The photos look great"
    "|Meeting moved to 3pm|Bring an umbrella|On my way"
).split("|")
MEME_EN = "WHEN THE CODE WORKS|NOBODY: ME AT 3AM|MONDAY AGAIN|ONE DOES NOT SIMPLY".split("|")
STAMP_EN = "(c) Zhang Wei 2021|Photo by Anna Lee".split("|")
NAMES = "妈妈|老王|小李".split("|"), "Mom|Alex|Sam".split("|")
PAINTS = [((250, 245, 230), (30, 30, 30)), ((20, 60, 140), (255, 255, 255)),
          ((170, 20, 20), (255, 230, 120)), ((20, 20, 20), (240, 240, 240))]  # fmt: skip
ZH_WORDS = {w for group in (SHOPS_ZH, TRADES_ZH, ITEMS_ZH, STAMP_ZH) for w in group} | set(
    "营业时间|欢迎光临|今日特价|免费停车|发票号码|合计|咖啡店|爬山|加班|生日快乐|雨伞|开会|晚饭"
    "|谢谢惠顾|人民路".split("|")
)


class MissingFonts(RuntimeError):
    """The fonts the text world renders with are not installed."""


@dataclass(frozen=True)
class TextPhoto:
    name: str
    jpeg: bytes
    lines: tuple[str, ...]  # what it says, line by line; () for a photo without words
    kind: str  # one of KINDS, or the ground (GROUNDS) of a photo without words
    lang: str | None  # "zh", "en", "mixed"; None without words
    words: tuple[str, ...]  # what a search could ask for: Chinese words of 2-6 characters,
    # English words of 3 letters or more

    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.jpeg))


@cache
def fonts() -> dict[str, Path]:
    """The font files by name (CJK and LATIN), or MissingFonts naming those not found."""
    roots = [os.environ.get("TEXTWORLD_FONTS", ""), *FONT_DIRS]
    found: dict[str, Path] = {}
    for root in filter(None, roots):
        for folder, _, files in os.walk(Path(root).expanduser()):
            for f in files:
                found.setdefault(f, Path(folder) / f)
    missing = [f for f in (*CJK, *LATIN) if f not in found]
    if missing:
        raise MissingFonts(
            f"the text world renders with {', '.join(missing)}, not found under "
            f"{', '.join(FONT_DIRS)} or TEXTWORLD_FONTS: {INSTALL}"
        )
    return {f: found[f] for f in (*CJK, *LATIN)}


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(fonts()[name]), size, index=CJK.get(name, 0))


def world(seed: int = 0, text: int = 300, plain: int = 300):
    """`text` photos with words, then `plain` without (a generator)."""
    for i in range(text):
        yield photo(seed, i, True)
    for i in range(plain):
        yield photo(seed, text + i, False)


def photo(seed: int, index: int, words: bool) -> TextPhoto:
    """Photo `index` of the world `seed`: with words or without."""
    rng = np.random.default_rng([seed, index, int(words)])
    kind = KINDS[index % len(KINDS)] if words else GROUNDS[index % len(GROUNDS)]
    if kind == "chat":
        size = (720, int(rng.choice([1280, 1440, 1560])))
    else:
        long = int(rng.choice([1024, 1280, 1280, 1600]))
        size = (long, long * 3 // 4) if rng.random() < 0.75 else (long * 3 // 4, long)
    lang = str(rng.choice(["zh", "zh", "en", "en", "mixed"])) if words else None
    lines: list[str] = []
    if kind == "chat":
        picture = _chat(rng, size, lang, lines)
    else:
        # Words go on any ground but static: no photo has white noise behind its words.
        picture = ground(rng, size, _pick(rng, GROUNDS[:-1]) if words else kind)
        if words:
            _DRAW[kind](rng, picture, lang, lines)
    if rng.random() < 0.3:  # a shaken or missed focus
        picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=int(rng.integers(40, 96)))
    said = " ".join(lines)
    found = {w for w in ZH_WORDS if 2 <= len(w) <= 6 and w in said}
    found |= set(re.findall(r"[A-Za-z]{3,}", said))
    name = f"{'text' if words else 'plain'}-{index:04d}-{kind}{'-' + lang if lang else ''}.jpg"
    return TextPhoto(name, out.getvalue(), tuple(lines), kind, lang, tuple(sorted(found)))


def ground(rng: np.random.Generator, size: tuple[int, int], kind: str) -> Image.Image:
    """A picture without words: one of GROUNDS."""
    w, h = size
    if kind == "shapes":
        scene = toyworld.render(toyworld.random_scene(rng), rng)
        pixels = np.asarray(scene.resize(size, Image.BICUBIC), np.float32)
    elif kind == "sky":
        top, low = rng.integers(90, 255, 3), rng.integers(0, 200, 3)
        t = np.linspace(0, 1, h)[:, None, None]
        pixels = np.broadcast_to(top * (1 - t) + low * t, (h, w, 3)).copy()
        pixels[int(h * rng.uniform(0.55, 0.8)) :] *= rng.uniform(0.3, 0.7)  # the ground
    elif kind == "bricks":
        pixels = _bricks(rng, size)
    elif kind in ("foliage", "static"):
        cells = (rng.integers(8, 40), rng.integers(8, 40)) if kind == "foliage" else (h, w)
        noise = rng.random((*cells, 3)) * 255
        base = Image.fromarray(noise.astype(np.uint8)).resize(size, Image.BICUBIC)
        tint = rng.uniform(0.4, 1.0, 3) if kind == "foliage" else np.ones(3)
        pixels = np.asarray(base, np.float32) * tint
    elif kind == "bokeh":
        picture = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 60, 3)))
        draw = ImageDraw.Draw(picture)
        for _ in range(int(rng.integers(15, 60))):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, w / 10)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(rng, 80, 255))
        pixels = np.asarray(picture.filter(ImageFilter.GaussianBlur(8)), np.float32)
    else:  # a wall: one colour, light falling off
        ramp = np.linspace(rng.uniform(0.7, 1), rng.uniform(0.7, 1), w)[None, :, None]
        pixels = np.broadcast_to(rng.integers(40, 250, 3) * ramp, (h, w, 3)).copy()
    pixels = pixels + rng.normal(0, rng.uniform(1, 6), (h, w, 1))  # sensor noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _bricks(rng, size) -> np.ndarray:
    w, h = size
    picture = Image.new("RGB", size, _colour(rng, 150, 220))  # mortar
    draw = ImageDraw.Draw(picture)
    bw, bh = int(rng.integers(40, 120)), int(rng.integers(16, 40))
    for row, y in enumerate(range(0, h, bh)):
        for x in range(-(bw // 2) * (row % 2), w, bw):
            shade = tuple(int(v) for v in np.clip(rng.normal([150, 70, 50], 15), 0, 255))
            draw.rectangle((x + 2, y + 2, x + bw - 2, y + bh - 2), fill=shade)
    return np.asarray(picture, np.float32)


def _colour(rng, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _faces(rng, lang: str) -> tuple[str, str]:
    """A (regular, bold) pair for the language: CJK faces for Chinese, any for English."""
    zh = [(f"Noto{k}CJK-Regular.ttc", f"Noto{k}CJK-Bold.ttc") for k in ("Sans", "Serif")]
    en = [(f"DejaVu{k}.ttf", "DejaVuSans-Bold.ttf") for k in ("Sans", "Serif", "SansMono")]
    return _pick(rng, zh if lang != "en" else zh + en)


def _say(rng, lang: str, zh, en) -> str:
    return _pick(rng, zh if lang == "zh" or (lang == "mixed" and rng.random() < 0.5) else en)


def _block(rows, width: int | None, pad: int, fill, stroke=None) -> Image.Image:
    """Rows of (text, font, colour, align) on a transparent or `fill` panel; a row of two
    texts puts the second on the right (a receipt's price)."""
    wide = stroke[0] if stroke else 0
    sizes = [[f.getbbox(t, stroke_width=wide) for t in texts] for texts, f, _, _ in rows]
    width = width or max(b[2] - b[0] for row in sizes for b in row) + 2 * pad
    heights = [max(b[3] for b in row) + pad // 2 for row in sizes]
    panel = Image.new("RGBA", (width, sum(heights) + 2 * pad), fill or (0, 0, 0, 0))
    draw, y = ImageDraw.Draw(panel), pad
    kw = {"stroke_width": stroke[0], "stroke_fill": stroke[1]} if stroke else {}
    for (texts, face, colour, align), row, height in zip(rows, sizes, heights, strict=True):
        for j, (t, box) in enumerate(zip(texts, row, strict=True)):
            x = width - pad - box[2] if j else pad if align == "left" else (width - box[2]) // 2
            draw.text((x, y), t, font=face, fill=colour, **kw)
        y += height
    return panel


def _place(rng, picture: Image.Image, panel: Image.Image, where=None, turn: float = 15) -> None:
    """Paste a panel, turned up to ±`turn` degrees, scaled to fit, at the top, bottom or
    bottom-right corner (`where`), or anywhere."""
    panel = panel.rotate(rng.uniform(-turn, turn), Image.BICUBIC, expand=True)
    fit = min(1.0, 0.92 * picture.width / panel.width, 0.92 * picture.height / panel.height)
    if fit < 1:
        panel = panel.resize((int(panel.width * fit), int(panel.height * fit)), Image.LANCZOS)
    free = (picture.width - panel.width, picture.height - panel.height)
    if where:
        x, y = {"top": (free[0] // 2, 10), "bottom": (free[0] // 2, free[1] - 10)}.get(
            where, (free[0] - 20, free[1] - 20)
        )
    else:
        x, y = int(rng.integers(free[0] + 1)), int(rng.integers(free[1] + 1))
    picture.paste(panel, (x, y), panel)


def _sign(rng, picture, lang, lines) -> None:
    regular, bold = _faces(rng, lang)
    big = int(rng.integers(36, 96))
    name = _say(rng, lang, [s + t for s in SHOPS_ZH for t in TRADES_ZH], SHOPS_EN)
    under = _say(rng, lang, UNDER_ZH, UNDER_EN)
    paint, ink = _pick(rng, PAINTS)
    rows = [
        ((name,), font(bold, big), ink, "centre"),
        ((under,), font(regular, int(big * rng.uniform(0.45, 0.7))), ink, "centre"),
    ]
    _place(rng, picture, _block(rows, None, big // 3, paint))
    lines += [name, under]


def _receipt(rng, picture, lang, lines) -> None:
    regular, bold = _faces(rng, lang)
    size, zh = int(rng.integers(18, 30)), lang == "zh" or (lang == "mixed" and rng.random() < 0.5)
    shop = _say(rng, "zh" if zh else "en", [s + t for s in SHOPS_ZH for t in TRADES_ZH], SHOPS_EN)
    y, m, d = int(rng.integers(2015, 2026)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    date = f"{y}年{m}月{d}日" if zh and rng.random() < 0.5 else f"{y}-{m:02d}-{d:02d} 14:{m + 20}"
    items = [
        (_pick(rng, ITEMS_ZH if zh else ITEMS_EN), f"{rng.uniform(1, 60):.2f}")
        for _ in range(int(rng.integers(3, 8)))
    ]
    total = f"{sum(float(p) for _, p in items):.2f}"
    number = f"{'发票号码' if zh else 'Invoice No. '}{rng.integers(10**7, 10**8)}"
    ink = (int(rng.integers(0, 60)),) * 3
    rows = [
        ((shop,), font(bold, int(size * 1.3)), ink, "centre"),
        ((date,), font(regular, size), ink, "left"),
    ]
    rows += [((item, price), font(regular, size), ink, "left") for item, price in items]
    rows += [
        (("合计" if zh else "Total", total), font(bold, size), ink, "left"),
        ((number,), font(regular, size), ink, "left"),
        (("谢谢惠顾" if zh else "Thank you!",), font(regular, size), ink, "centre"),
    ]
    paper = _block(
        rows, int(size * rng.uniform(14, 20)), size, (250, 250, 244 - int(rng.integers(20)))
    )
    _place(rng, picture, paper)
    lines += [shop, date] + [t for item in items for t in item]
    lines += ["合计" if zh else "Total", total, number, "谢谢惠顾" if zh else "Thank you!"]


def _chat(rng, size, lang, lines) -> Image.Image:
    w, h = size
    dark = rng.random() < 0.3
    picture = Image.new("RGB", size, (25, 25, 25) if dark else (237, 237, 237))
    draw, regular = ImageDraw.Draw(picture), _faces(rng, lang)[0]
    small, body = font(regular, 24), font(regular, int(rng.integers(26, 34)))
    ink = (230, 230, 230) if dark else (20, 20, 20)
    clock = f"{rng.integers(7, 23)}:{rng.integers(0, 60):02d}"
    name = _say(rng, lang, *NAMES)
    draw.text((30, 12), clock, font=small, fill=ink)
    draw.text((w // 2 - small.getbbox(name)[2] // 2, 60), name, font=font(regular, 30), fill=ink)
    lines += [clock, name]
    y = 130
    while y < h - 120:
        said = _say(rng, lang, CHAT_ZH, CHAT_EN)
        box = body.getbbox(said)
        mine = rng.random() < 0.5
        x = w - box[2] - 60 if mine else 40
        bubble = (149, 236, 105) if mine else ((60, 60, 60) if dark else (255, 255, 255))
        draw.rounded_rectangle((x - 16, y - 12, x + box[2] + 16, y + box[3] + 14), 12, fill=bubble)
        draw.text((x, y), said, font=body, fill=(20, 20, 20) if mine or not dark else ink)
        lines.append(said)
        y += box[3] + int(rng.integers(50, 110))
    return picture


def _meme(rng, picture, lang, lines) -> None:
    bold = _faces(rng, lang)[1]
    big = int(rng.integers(48, 90))
    for top in (True, False) if rng.random() < 0.6 else (bool(rng.random() < 0.5),):
        said = _say(rng, lang, MEME_ZH, MEME_EN)
        row = ((said,), font(bold, big), (255, 255, 255), "centre")
        panel = _block([row], None, 8, None, (max(2, big // 20), (0, 0, 0)))
        _place(rng, picture, panel, "top" if top else "bottom", 4)
        lines.append(said)


def _stamp(rng, picture, lang, lines) -> None:
    size = int(rng.integers(16, 27))
    if rng.random() < 0.6:
        y, m, d = int(rng.integers(1998, 2026)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        said, face, ink = f"{y} {m:02d} {d:02d}", "DejaVuSansMono.ttf", (255, 140, 30)
    else:
        said = _say(rng, lang, STAMP_ZH, STAMP_EN)
        face, ink = _faces(rng, lang)[0], (255, 255, 255)
    panel = _block([((said,), font(face, size), ink, "left")], None, 4, None, (1, (40, 40, 40)))
    _place(rng, picture, panel, "corner", 2)
    lines.append(said)


_DRAW = {"sign": _sign, "receipt": _receipt, "meme": _meme, "stamp": _stamp}


def normal(text: str) -> str:
    """What character accuracy compares: NFKC (full-width forms as ASCII), no white space."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def char_errors(truth: list[str] | tuple[str, ...], read: list[str]) -> tuple[int, int]:
    """(edits, characters): for each true line, the edit distance to its best match anywhere in
    what was read (its lines joined in reading order, so a line read in two pieces still
    matches), summed, and the true lines' characters. 1 - edits/characters is the character
    accuracy; words read that are not there are not counted (see the plain photos for that)."""
    said = np.array([ord(c) for c in normal("".join(read))], np.int64)
    edits = total = 0
    steps = np.arange(len(said) + 1)
    for line in map(normal, truth):
        row = np.zeros(len(said) + 1, np.int64)  # a match may start anywhere: row 0 is free
        for i, c in enumerate(line, 1):
            diagonal = row[:-1] + (said != ord(c))
            row = np.concatenate([[i], np.minimum(diagonal, row[1:] + 1)])
            row = np.minimum.accumulate(row - steps) + steps  # insertions along the row
        edits, total = edits + int(row.min()), total + len(line)
    return edits, total


def write(folder: Path, seed: int = 0, text: int = 300, plain: int = 300) -> Path:
    """The world as JPEG files and truth.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for p in world(seed, text, plain):
        (folder / p.name).write_bytes(p.jpeg)
        truth[p.name] = {k: v for k, v in asdict(p).items() if k not in ("name", "jpeg")}
    (folder / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1))
    return folder


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    for flag, default in (("--seed", 0), ("--text", 300), ("--plain", 300)):
        parser.add_argument(flag, type=int, default=default)
    args = parser.parse_args()
    try:
        print(write(args.folder, args.seed, args.text, args.plain))
    except MissingFonts as e:
        sys.exit(str(e))
