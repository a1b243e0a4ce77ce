"""Words in photos: PP-OCR run by onnxruntime on the weights the rapidocr-onnxruntime wheel ships
(ch_PP-OCRv4 detection, DB; ch_PP-OCRv4 recognition, CTC over Chinese, English and digits; the
v2.0 classifier that turns a line upside down; Apache-2.0), every image step in Pillow and numpy.

References: rapidocr_onnxruntime 1.4.4 (`ch_ppocr_det/utils.py`, `ch_ppocr_cls`, `ch_ppocr_rec`,
`main.py`) and PaddleOCR's `DBPostProcess` and `CTCLabelDecode`, rewritten as plain code: that
package imports OpenCV's GUI build (libGL), so neither it nor cv2 is imported; its model files
are found with importlib and run as they are. Where we differ: a line of symbols alone (★, ■,
dots: what PP-OCR reads in round shapes and bokeh) is dropped, the largest 1000 components are
tried (cv2 took the first found), and Pillow resizes with antialiasing.

`Reader.read`: (1) `upright`: decoded no larger than needed (a JPEG not yet decoded is drafted
to the smallest DCT scale still >= the cap), EXIF orientation applied, long side <= `max_side`;
(2) `detect`: resized to multiples of 32, BGR, (x/255 - 0.5)/0.5 -> a text probability map;
pixels > 0.3, dilated 2x2, 8-connected components; each one's minimum-area rectangle, kept where
the map's mean inside is >= 0.5, grown by area * 1.6 / perimeter on every side (DB's unclip,
which for a rectangle is exactly this: no polygon clipper); (3) `read_boxes`: each line cropped
along its rotated rectangle (Pillow's QUAD transform), a tall one turned 90°, then 180° where
the classifier is sure (> 0.9); recognised at height 48, width by aspect (>= 320), in batches
of like widths -> greedy CTC with the model's own character list (its ONNX metadata); lines of
mean confidence < 0.5 dropped. Bounded: the `max_lines` largest lines and a time budget per photo;
what was cut is said in `Read.cut`. indexer/read.py decides what to read and how."""

from __future__ import annotations

import importlib.util
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from altclip_core.preprocess import MAX_MEGAPIXELS, check_size, to_rgb

from .errors import IndexerError

PACKAGE = "rapidocr_onnxruntime"  # found, never imported: its __init__ imports cv2
INSTALL = "pip install rapidocr-onnxruntime==1.4.4 onnxruntime"
DETECTOR, CLASSIFIER, RECOGNISER = (
    "ch_PP-OCRv4_det_infer.onnx",
    "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "ch_PP-OCRv4_rec_infer.onnx",
)
MAX_SIDE = 1600  # a photo is read with its long side at most this
MAX_LINES = 200  # lines recognised per photo at most
BUDGET_S = 5.0  # seconds per photo, checked between recognition batches
CUT_FACTOR = 4  # a photo over this many times max_side is said to be cut: its small print is lost
THRESH, BOX_THRESH, UNCLIP, MIN_SIZE, CANDIDATES = 0.3, 0.5, 1.6, 3, 1000  # DB, as PaddleOCR
HEIGHT, MIN_WIDTH, MAX_WIDTH, BATCH = 48, 320, 3200, 6  # recogniser input
CLS_WIDTH, CLS_SURE = 192, 0.9
TEXT_SCORE = 0.5  # a line's mean character confidence at least this


@dataclass(frozen=True)
class Line:
    text: str
    box: tuple[tuple[float, float], ...]  # top-left, top-right, bottom-right, bottom-left
    confidence: float  # the mean probability of its characters


@dataclass(frozen=True)
class Read:
    """What one photo says: lines in reading order, boxes in the photo's pixels as shown."""

    lines: list[Line] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # (width, height) the words were read at
    cut: str | None = None  # why some words may be missing; None: nothing was cut

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def model_folder() -> Path:
    """The folder of the wheel's ONNX files, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise IndexerError(f"reading words needs the PP-OCR weights: {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class Reader:
    """The three PP-OCR models, loaded once; `read` a photo's words.

    Args:
        models: the folder holding the three ONNX files (default: the installed wheel's).
        threads: onnxruntime's threads per model run (they do not spin while idle).
        max_side, max_lines, budget_s: the bounds of one photo's reading.
    """

    def __init__(
        self,
        models: Path | None = None,
        threads: int = 1,
        max_side: int = MAX_SIDE,
        max_lines: int = MAX_LINES,
        budget_s: float = BUDGET_S,
    ):
        from altclip_core.prepared import ort  # imported there with its telemetry off

        folder = Path(models) if models else model_folder()
        missing = [n for n in (DETECTOR, CLASSIFIER, RECOGNISER) if not (folder / n).is_file()]
        if missing:
            raise IndexerError(f"{folder} lacks {', '.join(sorted(missing))}: {INSTALL}")
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3
        # An idle thread that spins takes a core from the image tower running beside it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._det, self._cls, self._rec = (
            ort.InferenceSession(str(folder / n), options, providers=["CPUExecutionProvider"])
            for n in (DETECTOR, CLASSIFIER, RECOGNISER)
        )
        listed = self._rec.get_modelmeta().custom_metadata_map.get("character", "").splitlines()
        self.characters = ["", *listed, " "]  # CTC's blank first and a space last, as PaddleOCR
        classes = self._rec.get_outputs()[0].shape[-1]
        if len(self.characters) != classes:
            raise IndexerError(
                f"{folder / RECOGNISER} lists {len(listed)} characters for {classes} classes: "
                f"reinstall it ({INSTALL})"
            )
        self.max_side, self.max_lines, self.budget_s = max_side, max_lines, budget_s

    def read(
        self, image: Image.Image, side: int | None = None, shown: tuple[int, int] | None = None
    ) -> Read:
        """The words in a photo.

        Args:
            image: the photo; one not yet decoded is decoded no larger than the reading needs.
            side: read with the long side at most this (never above `max_side`).
            shown: the photo's size as shown when `image` is a smaller copy of it (boxes are
                given in the photo's pixels).
        """
        start = time.perf_counter()
        rgb, photo = self.upright(image, min(side or self.max_side, self.max_side))
        return self.read_boxes(rgb, self.detect(rgb)[0], shown or photo, start)

    def read_boxes(
        self, rgb: Image.Image, boxes: np.ndarray, shown: tuple[int, int] | None = None, start=None
    ) -> Read:
        """The lines inside `boxes` [N, 4, 2] (in `rgb`'s pixels, found at any resolution):
        the `max_lines` largest, recognised until `budget_s` after `start` (a perf_counter;
        default now). Boxes come back in the pixels of a photo of size `shown` (default: rgb's).
        """
        start = time.perf_counter() if start is None else start
        shown, cut = shown or rgb.size, []
        if max(shown) > CUT_FACTOR * max(rgb.size):
            cut.append(f"the photo is {shown[0]}x{shown[1]}: read at {rgb.width}x{rgb.height}")
        if len(boxes) > self.max_lines:
            sides = np.linalg.norm(boxes[:, [1, 3]] - boxes[:, [0, 0]], axis=2)  # [N, 2]
            largest = np.sort(np.argsort(-sides.prod(1), kind="stable")[: self.max_lines])
            cut.append(f"{len(boxes)} lines found, the {self.max_lines} largest read")
            boxes = boxes[largest]
        boxes = boxes[reading_order(boxes)]
        crops = self._orient([line_crop(rgb, box) for box in boxes])
        found = self._recognise(crops, start + self.budget_s)
        if None in found:
            done = sum(r is not None for r in found)
            cut.append(f"the time budget ({self.budget_s:g} s) ran out: {done} of {len(found)}")
        scale = np.array([shown[0] / rgb.width, shown[1] / rgb.height])
        lines = [
            Line(text, tuple(tuple(round(float(v), 1) for v in p) for p in box * scale), conf)
            for box, r in zip(boxes, found, strict=True)
            if r is not None
            for text, conf in [r]
            if conf >= TEXT_SCORE and any(c.isalnum() for c in text)
        ]
        return Read(lines, rgb.size, "; ".join(cut) or None)

    def upright(self, image: Image.Image, side: int) -> tuple[Image.Image, tuple[int, int]]:
        """The photo upright in RGB with its long side at most `side`, and its size as shown.
        A JPEG not yet decoded is decoded at the smallest DCT scale still >= `side` (memory
        follows `side`, not what the file claims); an image over MAX_MEGAPIXELS is refused."""
        check_size(image, MAX_MEGAPIXELS)
        w, h = image.size
        shown = (h, w) if image.getexif().get(0x0112) in (5, 6, 7, 8) else (w, h)
        if image.format == "JPEG" and max(w, h) > side:
            scale = side / max(w, h)
            image.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
        rgb = to_rgb(image)
        if max(rgb.size) > side:
            scale = side / max(rgb.size)
            size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
            rgb = rgb.resize(size, Image.BILINEAR, reducing_gap=2.0)
        return rgb, shown

    def detect(
        self, rgb: Image.Image, side: int | None = None, box_thresh: float = BOX_THRESH
    ) -> tuple[np.ndarray, np.ndarray]:
        """Text lines in an RGB image, looked for with its long side at most `side` (default:
        its own size): boxes [N, 4, 2] (top-left, top-right, bottom-right, bottom-left, in
        `rgb`'s pixels) and their scores [N] (the map's mean inside)."""
        w, h = rgb.size
        prob = self.text_map(rgb, side)
        boxes, scores = db_boxes(prob, box_thresh)
        boxes = np.round(boxes * [w / prob.shape[1], h / prob.shape[0]])
        boxes = np.clip(boxes, 0, [w - 1, h - 1]).astype(np.float32)
        sides = np.linalg.norm(boxes[:, [1, 3]] - boxes[:, [0, 0]], axis=2)  # [N, 2]
        keep = (sides > MIN_SIZE).all(1)
        return boxes[keep], scores[keep]

    def text_map(self, rgb: Image.Image, side: int | None = None) -> np.ndarray:
        """The detector's text probability per pixel [H, W] (float32, 0-1) of an RGB image
        resized to multiples of 32 with its long side at most `side` (default: its own)."""
        w, h = rgb.size
        scale = min(1.0, (side or max(w, h)) / max(w, h))
        mw, mh = (max(32, round(v * scale / 32) * 32) for v in (w, h))
        x = np.asarray(rgb.resize((mw, mh), Image.BILINEAR), np.float32)[:, :, ::-1]  # BGR
        x = np.ascontiguousarray((x / 127.5 - 1.0).transpose(2, 0, 1)[None])  # [1, 3, H, W]
        return self._det.run(None, {"x": x})[0][0, 0]

    def _orient(self, crops: list[Image.Image]) -> list[Image.Image]:
        """Each line turned 180° where the classifier is sure it is upside down."""
        for start in range(0, len(crops), 32):
            batch = crops[start : start + 32]
            x = np.stack([_strip(c, CLS_WIDTH) for c in batch])  # [B, 3, 48, 192]
            probs = self._cls.run(None, {"x": x})[0]  # [B, 2]: upright, upside down
            for i, p in enumerate(probs):
                if p.argmax() == 1 and p[1] > CLS_SURE:
                    crops[start + i] = batch[i].transpose(Image.ROTATE_180)
        return crops

    def _recognise(self, crops: list[Image.Image], deadline: float) -> list:
        """(text, confidence) per line, or None for lines the time budget left unread."""
        found: list = [None] * len(crops)
        ratios = [c.width / c.height for c in crops]
        order = np.argsort(ratios, kind="stable")  # like widths batched: less padding
        for start in range(0, len(crops), BATCH):
            if time.perf_counter() > deadline:
                break
            batch = order[start : start + BATCH]
            ratio = max(MIN_WIDTH / HEIGHT, *(ratios[i] for i in batch))
            width = min(MAX_WIDTH, int(HEIGHT * ratio))
            x = np.stack([_strip(crops[i], width) for i in batch])  # [B, 3, 48, width]
            probs = self._rec.run(None, {"x": x})[0]  # [B, T, classes], softmaxed
            for i, p in zip(batch, probs, strict=True):
                found[i] = self._ctc(p)
        return found

    def _ctc(self, probs: np.ndarray) -> tuple[str, float]:  # greedy: repeats merged, no blanks
        best = probs.argmax(1)  # [T]
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        text = "".join(self.characters[i] for i in best[keep])
        return text, float(probs.max(1)[keep].mean()) if keep.any() else 0.0


def _strip(line: Image.Image, width: int) -> np.ndarray:
    """A line as the classifier and the recogniser take it: [3, 48, width] float32, BGR,
    (x/255 - 0.5)/0.5, height 48 and width by aspect (at most `width`), zeros to the right."""
    w = min(width, math.ceil(HEIGHT * line.width / line.height))
    x = np.asarray(line.resize((w, HEIGHT), Image.BILINEAR), np.float32)[:, :, ::-1]
    out = np.zeros((3, HEIGHT, width), np.float32)
    out[:, :, :w] = (x / 127.5 - 1.0).transpose(2, 0, 1)  # [48, w, 3] -> [3, 48, w]
    return out


def line_crop(rgb: Image.Image, box: np.ndarray) -> Image.Image:
    """The line inside a (rotated) box, straightened: Pillow's QUAD transform maps the box's
    corners onto an upright rectangle; a line twice as tall as wide is turned 90°."""
    tl, tr, br, bl = box
    w = int(max(np.linalg.norm(tl - tr), np.linalg.norm(bl - br)))
    h = int(max(np.linalg.norm(tl - bl), np.linalg.norm(tr - br)))
    quad = tuple(float(v) for v in (*tl, *bl, *br, *tr))  # Pillow's order: counter-clockwise
    line = rgb.transform((max(w, 1), max(h, 1)), Image.QUAD, quad, Image.BICUBIC)
    return line.transpose(Image.ROTATE_90) if h >= 1.5 * w else line


def reading_order(boxes: np.ndarray) -> list[int]:
    """Top to bottom by the top-left corner, left to right within 10 pixels (rapidocr's)."""
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][0][1], boxes[i][0][0]))
    for i in range(len(order) - 1):
        for j in range(i, -1, -1):
            a, b = boxes[order[j]][0], boxes[order[j + 1]][0]
            if abs(b[1] - a[1]) < 10 and b[0] < a[0]:
                order[j], order[j + 1] = order[j + 1], order[j]
            else:
                break
    return order


def db_boxes(prob: np.ndarray, box_thresh: float = BOX_THRESH) -> tuple[np.ndarray, np.ndarray]:
    """DB's post-processing: a probability map [H, W] -> boxes [N, 4, 2] in the map's pixels
    and their scores [N]. The largest CANDIDATES components are tried (cv2 took the first)."""
    mask = prob > THRESH  # dilated by a 2x2 kernel anchored as cv2's: grows down and right
    mask[1:] |= mask[:-1].copy()
    mask[:, 1:] |= mask[:, :-1].copy()
    boxes, scores = [], []
    for points in components(mask)[:CANDIDATES]:
        rect = min_rect(points)
        if rect is None or min(rect[1]) < MIN_SIZE:
            continue
        score = _mean_inside(prob, _corners(*rect))
        if score < box_thresh:
            continue
        (cu, cn), (su, sn), axes = rect
        grow = su * sn * UNCLIP / (2 * (su + sn))  # area * ratio / perimeter
        if min(su, sn) + 2 * grow < MIN_SIZE + 2:
            continue
        boxes.append(_corners((cu, cn), (su + 2 * grow, sn + 2 * grow), axes))
        scores.append(score)
    return np.array(boxes, np.float32).reshape(-1, 4, 2), np.array(scores, np.float32)


def components(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of a boolean mask, largest first, each as the pixel centres
    [K, 2] (x, y) at the ends of its runs (enough for its convex hull)."""
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)  # [H, W + 1]
    rows, starts = np.nonzero(edges == 1)  # row-major, so a row's starts and ends pair up
    _, ends = np.nonzero(edges == -1)  # exclusive
    if not len(rows):
        return []
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Runs of the row above that touch run i (diagonals too) form one range of indices.
    stride = mask.shape[1] + 2
    first = np.searchsorted(rows * stride + ends, (rows - 1) * stride + starts, "left")
    last = np.searchsorted(rows * stride + starts, (rows - 1) * stride + ends, "right")
    for i in np.nonzero(first < last)[0]:
        for j in range(first[i], last[i]):
            a, b = root(int(i)), root(j)
            if a != b:
                parent[a] = b
    labels = np.array([root(i) for i in range(len(rows))])
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.nonzero(np.diff(labels[order]))[0] + 1)
    groups.sort(key=lambda g: -int((ends[g] - starts[g]).sum()))
    return [
        np.concatenate([np.stack([starts[g], rows[g]], 1), np.stack([ends[g] - 1, rows[g]], 1)])
        for g in groups
    ]


def min_rect(points: np.ndarray):
    """The minimum-area rectangle around points [K, 2], as (centre along its axes, its sides,
    its axes), or None for fewer than 3 points off one line. One of its sides lies along an
    edge of the convex hull, so every edge direction is tried."""
    hull = _hull(points.astype(np.float64))
    if len(hull) < 3:
        return None
    edges = np.roll(hull, -1, axis=0) - hull  # [K, 2]
    u = edges / np.linalg.norm(edges, axis=1, keepdims=True)  # each edge's direction
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)  # and its normal
    pu, pn = hull @ u.T, hull @ n.T  # [K points, K directions]
    su, sn = pu.max(0) - pu.min(0), pn.max(0) - pn.min(0)
    k = int(np.argmin(su * sn))
    centre = ((pu.max(0)[k] + pu.min(0)[k]) / 2, (pn.max(0)[k] + pn.min(0)[k]) / 2)
    return centre, (su[k], sn[k]), (u[k], n[k])


def _hull(points: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain: the convex hull, counter-clockwise, without repeated points."""
    pts = [tuple(p) for p in np.unique(points, axis=0).tolist()]  # sorted by x, then y

    def half(seq) -> list:
        out: list = []
        for x, y in seq:
            while len(out) > 1 and _cross(out[-2], out[-1], x, y) <= 0:  # not a left turn
                out.pop()
            out.append((x, y))
        return out[:-1]

    return np.array(half(pts) + half(pts[::-1]) if len(pts) > 2 else pts, np.float64)


def _cross(o, a, x: float, y: float) -> float:
    return (a[0] - o[0]) * (y - o[1]) - (a[1] - o[1]) * (x - o[0])


def _corners(centre, sides, axes) -> np.ndarray:
    """A rectangle's corners [4, 2]: top-left, top-right, bottom-right, bottom-left (the left
    two by x, then each pair by y, as rapidocr orders them)."""
    (cu, cn), (su, sn), (u, n) = centre, sides, axes
    signs = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    pts = [u * (cu + a * su / 2) + n * (cn + b * sn / 2) for a, b in signs]
    pts = sorted(pts, key=lambda p: p[0])
    left, right = sorted(pts[:2], key=lambda p: p[1]), sorted(pts[2:], key=lambda p: p[1])
    return np.array([left[0], right[0], right[1], left[1]])


def _mean_inside(prob: np.ndarray, box: np.ndarray) -> float:
    """The map's mean inside a box (DB's "fast" score: the box, not the component)."""
    h, w = prob.shape
    x0, y0 = np.clip(np.floor(box.min(0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(box.max(0)).astype(int), 0, [w - 1, h - 1])
    mask = Image.new("L", (x1 - x0 + 1, y1 - y0 + 1))
    ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in box.tolist()], fill=1)
    inside = np.asarray(mask, bool)
    return float(prob[y0 : y1 + 1, x0 : x1 + 1][inside].mean()) if inside.any() else 0.0
