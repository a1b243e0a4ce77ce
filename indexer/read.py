"""The read stage's decision: which photos need reading, and at what resolution.

Detection is what reading costs: the detector over a 1600-pixel photo takes as long whether the
photo holds a page of print or a blank sky; recognition takes ~10 ms a line. So every photo gets
one look by the detector at GLANCE (800) pixels on its long side, a quarter of the pixels:
- where that look finds no line, the photo needs no reading and is done;
- where it finds lines, their boxes are scaled up and the lines recognised from the photo at
  the reader's full size (1600): the detector needs far fewer pixels to see where a line is
  than the recogniser needs to read it, so there is no second, full-size detection.
What this misses is small print: lines under ~1.3% of the photo's long side (a 16-26 pixel date
stamp in a 1280-pixel photo, orange on orange bricks). `Reader.read` (detection at full size)
is there for callers who want every line whatever it costs.

Measured by `python bench/words.py --glance 480 640 800 960 --full 100 --tower` on the text
world (tests/textworld.py, seed 0: 300 photos with words, 300 without), AMD EPYC with
avx512_bf16, 2 cores shared with four other sessions (load average 4-5), one onnxruntime
thread, the ways taking turns on each photo; the seconds are rough, their ratios hold better:

| way | photos with words skipped | accuracy | s/photo with words | without | 10 % with |
|---|---|---|---|---|---|
| glance 480 | 5.7 % (17) | 0.968 | 0.14 | 0.04 | 0.05 |
| glance 640 | 2.3 % (7) | 0.991 | 0.17 | 0.07 | 0.08 |
| **glance 800** | **0.7 % (2)** | **0.997** | **0.21** | **0.11** | **0.12** |
| glance 960 | 0.3 % (1) | 0.998 | 0.25 | 0.16 | 0.16 |
| full look: detection at 1600 (100 + 100) | 0 % | 0.9998 | 0.41 | 0.35 | 0.36 |

Accuracy is 1 - CER (tests.textworld.char_errors). A glance at 320 missed 8 of the first 40
photos with words, all small print. AltCLIP's image tower (ViT-L/14 at 224, float32), timed in
the same run on one thread, took 1.93 s a photo: reading as here adds 6 % to the CPU work of
indexing a library where one photo in ten holds words (the full look everywhere: 18 %). Both
ways read a symbol or two (O, 8, 口) in some bokeh and toy-shape photos: 13 of the 300 without
words at 800 (the full look: 8 of 100). The glance finds a line in 76 of those 300 (round blobs
look like print to it); recognising those few lines is what a photo without words costs beyond
the glance. Its box threshold is 0.3, not the reader's 0.5: one stamp more found (2 missed of
300, not 3) for 4 more such looks.

Not tried: a zero-shot "text in the picture" score on the image vector the embed stage made.
It needs the text tower loaded beside the indexer's image tower (XLM-R large, ~2 GB) to embed
its captions once per model, and a threshold per model; and it would still leave the question
of where the lines are, which the glance answers at the same time.
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from .ocr import Read, Reader

GLANCE = 800  # the detector's long side for the look that decides
GLANCE_BOX = 0.3  # a box's mean text probability at the glance (the reader's own: 0.5)


def glance(reader: Reader, rgb: Image.Image, side: int = GLANCE) -> np.ndarray:
    """The lines the detector sees in an upright RGB photo at `side` pixels on its long side:
    boxes [N, 4, 2] in `rgb`'s pixels."""
    return reader.detect(rgb, side, GLANCE_BOX)[0]


def needs_reading(reader: Reader, image: Image.Image, side: int = GLANCE) -> bool:
    """Whether a photo shows lines of text at a glance (an empty one needs no reading)."""
    return len(glance(reader, reader.upright(image, reader.max_side)[0], side)) > 0


def read_photo(reader: Reader, image: Image.Image, side: int = GLANCE) -> Read:
    """A photo's words, read as the module says: a glance at `side` pixels decides, and the
    lines it finds are recognised from the photo at the reader's `max_side`.

    Args:
        image: the photo (one not yet decoded is decoded no larger than `max_side`).
    Returns:
        Read: its lines (none where the glance saw none), boxes in the photo's pixels as shown,
        and what was cut.
    """
    start = time.perf_counter()
    rgb, shown = reader.upright(image, reader.max_side)
    return reader.read_boxes(rgb, glance(reader, rgb, side), shown, start)
