"""The read stage's decision: which photos need reading, and at what resolution.

Detection is what reading costs: the detector over a 1600-pixel photo takes ~0.5 s whether
the photo holds a page of print or a blank sky, recognition ~10 ms a line. So every photo gets
one look by the detector at GLANCE (800) pixels on its long side, a quarter of the pixels:
- where that look finds no line, the photo needs no reading and is done;
- where it finds lines, their boxes are scaled up and the lines recognised from the photo at
  the reader's full size (1600 on the long side): the detector needs far fewer pixels to see
  where a line is than the recogniser needs to read it, so no second, full-size detection.
Print smaller than ~1% of the photo's long side (16 pixels at 1600, 8 at the glance) is what
this misses; `Reader.read` (detection at full size) is there for callers who want it anyway.

Measured by bench/words.py on the text world (tests/textworld.py; 100 + 100 photos, seed 0;
AMD EPYC with avx512_bf16, 2 cores shared with four other sessions, load average 6-8, one
onnxruntime thread; seconds are rough, relative ones hold):

| rule | text photos skipped | character accuracy | s/photo with text | without |
|---|---|---|---|---|
| full look: detection at 1600 | 0 % | 0.9998 | 0.78 | 0.63 |
| glance 320-480, then the full look | 6-20 % (small print) | | | |
| glance 640, recognise its boxes | 3 % (small print) | 0.990 | 0.23 | 0.09 |
| **glance 800, recognise its boxes** | **0 %** | **0.999** | **0.29** | **0.15** |
| glance 960, recognise its boxes | 0 % | 0.999 | 0.35 | 0.21 |

A library where one photo in ten holds words then costs ~0.16 s a photo to read, against ~1 s
for AltCLIP's image tower (ViT-L/14, float32, same CPUs): under the 1.25x target. A zero-shot
"text in the picture" score on the image vector the embed stage made was not tried: it needs
the text tower loaded beside the indexer's image tower (~2 GB) to embed its captions once, and
a threshold per model; the glance costs 0.13 s and is measured here. See bench/words.py for the
current figures and `--glance` to try other sizes.
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
