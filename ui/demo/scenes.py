"""The demo's pictures: scenes of one to three coloured shapes on a plain background, drawn as the
toy world the demo's model was trained on draws them (tests/toyworld.py, whose model this package
ships as `toy-model/`), with their captions in Chinese and English.

A scene is a group of 1-3 identical shapes (circle, square, triangle, star) of one colour and
size, on the left, on the right or spread out, on a white, black or grey background. The drawing
here is the toy world's, step for step and random draw for random draw (tests/test_demo.py
draws both and compares the pixels): the model knows nothing else, so a picture drawn otherwise
would be searched worse. The product may not import the tests, hence this copy.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from PIL import Image, ImageDraw

KINDS = ("circle", "square", "triangle", "star")
COLOURS = {
    "red": (215, 40, 40),
    "green": (40, 165, 60),
    "blue": (45, 85, 215),
    "yellow": (235, 200, 35),
    "purple": (140, 60, 185),
}
BACKGROUNDS = {"white": (242, 242, 242), "black": (22, 22, 22), "grey": (128, 128, 128)}
SIZES = {"small": (10.0, 12.0), "large": (16.0, 19.0)}  # radius range in pixels, at EDGE
POSITIONS = ("left", "right", None)  # None: spread over the whole picture
EDGE = 128  # the toy world's pictures; the model sees them at 48 x 48
JPEG_QUALITY = 90

ZH = {
    "circle": "圆",
    "square": "正方形",
    "triangle": "三角形",
    "star": "星星",
    "red": "红色",
    "green": "绿色",
    "blue": "蓝色",
    "yellow": "黄色",
    "purple": "紫色",
    "white": "白色",
    "black": "黑色",
    "grey": "灰色",
    "small": "小",
    "large": "大",
    "left": "左边",
    "right": "右边",
}
ZH_COUNTS = {1: "一个", 2: "两个", 3: "三个"}
EN_COUNTS = {1: "one", 2: "two", 3: "three"}


@dataclass(frozen=True)
class Scene:
    """What a picture shows; in a caption, None means "not said"."""

    kind: str | None = None
    colour: str | None = None
    count: int | None = None
    size: str | None = None
    position: str | None = None
    background: str | None = None


def random_scene(rng: np.random.Generator) -> Scene:
    return Scene(
        kind=str(rng.choice(KINDS)),
        colour=str(rng.choice(tuple(COLOURS))),
        count=int(rng.integers(1, 4)),
        size=str(rng.choice(tuple(SIZES))),
        position=POSITIONS[rng.integers(len(POSITIONS))],
        background=str(rng.choice(tuple(BACKGROUNDS))),
    )


def caption(q: Scene, lang: str) -> str:
    """The caption that names exactly `q`'s attributes: "两个红色的大圆，黑色背景",
    "左边有一个蓝色的正方形", "two large red circles on a black background", "a blue square on
    the left"."""
    if lang == "zh":
        colour = f"{ZH[q.colour]}的" if q.colour else ""
        size = ZH[q.size] if q.size else ""
        thing = ZH[q.kind] if q.kind else "图形"
        text = f"{ZH_COUNTS.get(q.count, '')}{colour}{size}{thing}"
        if q.position:
            text = f"{ZH[q.position]}有{text}"
        return text + (f"，{ZH[q.background]}背景" if q.background else "")
    thing = q.kind or "shape"
    words = [EN_COUNTS[q.count] if q.count else "a", q.size, q.colour]
    words.append(thing + "s" if q.count and q.count > 1 else thing)
    text = " ".join(w for w in words if w)
    if q.position:
        text += f" on the {q.position}"
    return text + (f" on a {q.background} background" if q.background else "")


def render(scene: Scene, rng: np.random.Generator, edge: int = EDGE) -> Image.Image:
    """The scene drawn at `edge` x `edge`: each shape at a random place and size within its
    class, colours jittered a little, shapes apart from each other; on the left (right): every
    shape in that half; spread out: shapes in both halves, or a single one across the middle."""
    jitter = rng.integers(-4, 5, 3)
    bg = tuple(int(c) for c in np.clip(np.array(BACKGROUNDS[scene.background]) + jitter, 0, 255))
    image = Image.new("RGB", (edge, edge), bg)
    draw = ImageDraw.Draw(image)
    lo, hi = (r * edge / EDGE for r in SIZES[scene.size])
    radius = rng.uniform(lo, hi)
    middle = edge / 2
    x_range = {"left": (0, middle), "right": (middle, edge), None: (0, edge)}[scene.position]
    if scene.position is None and scene.count == 1:
        x_range = (middle - 1.5 * radius - 1, middle + 1.5 * radius + 1)

    def fits(placed: list[tuple[float, float]]) -> bool:
        if len(placed) < scene.count:
            return False
        xs = [x for x, _ in placed]
        return scene.position is not None or scene.count == 1 or min(xs) < middle < max(xs)

    placed: list[tuple[float, float]] = []
    while not fits(placed):  # rejection sampling: shapes must not touch
        placed = []
        for _ in range(50 * scene.count):
            x = rng.uniform(x_range[0] + radius + 1, x_range[1] - radius - 1)
            y = rng.uniform(radius + 1, edge - radius - 1)
            if all(math.hypot(x - a, y - b) > 2.1 * radius for a, b in placed):
                placed.append((x, y))
                if len(placed) == scene.count:
                    break
    colour = np.array(COLOURS[scene.colour]) + rng.integers(-10, 11, 3)
    fill = tuple(int(c) for c in np.clip(colour, 0, 255))
    for x, y in placed:
        draw.polygon(outline(scene.kind, x, y, radius), fill=fill)
    return image


def outline(kind: str, x: float, y: float, r: float) -> list[tuple[float, float]]:
    """The corners of a shape of radius `r` centred on (x, y)."""
    if kind == "circle":
        return [(x + r * math.cos(t), y + r * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 48)]
    if kind == "square":
        s = r * 0.85
        return [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)]
    if kind == "triangle":
        corners = (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)
        return [(x + r * math.cos(t), y + r * math.sin(t)) for t in corners]
    points = []  # a five-pointed star: outer and inner points in turn
    for i in range(10):
        t = -math.pi / 2 + i * math.pi / 5
        rr = r if i % 2 == 0 else r * 0.45
        points.append((x + rr * math.cos(t), y + rr * math.sin(t)))
    return points


def photo_bytes(
    scene: Scene,
    rng: np.random.Generator,
    taken: datetime | None = None,
    edge: int = EDGE,
    quality: int = JPEG_QUALITY,
) -> bytes:
    """The scene as a JPEG file, with its capture date in EXIF (DateTimeOriginal) if given."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    buf = io.BytesIO()
    render(scene, rng, edge).save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


def random_date(rng: np.random.Generator, start: datetime, days: int) -> datetime:
    return start + timedelta(days=int(rng.integers(days)), seconds=int(rng.integers(86400)))
