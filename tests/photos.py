"""Generated photo folders: a varied good set and a hostile set, as Pictures folders hold."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.test_parity import photo

GOOD = 14  # files make_photos writes that must index fine (hidden ones excluded)
BAD = 6  # files make_hostile writes that must fail with a reason


def exif(orientation: int = 1, taken: str | None = None) -> Image.Exif:
    e = Image.Exif()
    e[0x0112] = orientation
    if taken:
        e.get_ifd(0x8769)[0x9003] = taken
    return e


def make_photos(root: Path) -> Path:
    (root / "2023" / "summer").mkdir(parents=True)
    (root / "2024").mkdir()
    (root / ".hidden").mkdir()
    photo(640, 480, 1).save(root / "2023" / "summer" / "beach.jpg", quality=90)
    photo(480, 640, 2).save(
        root / "2023" / "rotated.JPG", exif=exif(6, "2023:06:15 18:30:00"), quality=90
    )
    photo(1200, 900, 3).save(root / "2023" / "large.jpeg", quality=85)
    photo(300, 300, 4).save(root / "2024" / "square.png")
    photo(320, 200, 5).save(root / "2024" / "wide.webp")
    photo(200, 320, 6).save(root / "2024" / "tall.bmp")
    photo(256, 256, 7).save(root / "2024" / "scan.tiff")
    frames = [photo(120, 90, 8 + i) for i in range(3)]
    frames[0].save(root / "2024" / "anim.gif", save_all=True, append_images=frames[1:])
    photo(400, 300, 11).convert("CMYK").save(root / "2024" / "print.jpg")
    grey16 = (np.asarray(photo(200, 150, 12).convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(root / "2024" / "grey16.png")
    pal = photo(100, 100, 13).convert("P")
    pal.info["transparency"] = 0
    pal.save(root / "2024" / "palette.png", transparency=0)
    rgba = photo(150, 150, 14).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(root / "2024" / "alpha.png")
    photo(160, 120, 15).save(root / "2024" / "café.jpg")
    photo(160, 120, 16).save(os.path.join(os.fsencode(root / "2024"), b"caf\xe9-latin1.jpg"))
    photo(64, 64, 17).save(root / ".hidden" / "secret.jpg")
    (root / "2024" / "notes.txt").write_text("not a photo, not an image extension")
    return root


def make_hostile(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    good = root / "good.jpg"
    photo(400, 300, 20).save(good, quality=90)
    data = good.read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    good.unlink()
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_text("this is not a JPEG")
    (root / "bomb.png").write_bytes(_png_header(60_000, 60_000))
    (root / "garbage.webp").write_bytes(os.urandom(2048))
    Image.new("L", (2500, 2000)).save(root / "huge.png")  # 5 MP: over a 4 MP test limit
    return root


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims an enormous size and holds almost nothing: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )


def make_attacks(root: Path) -> dict[str, str | None]:
    """Files an attacker (or a bad day) leaves in a photo folder, each named for what it is, with
    the reason its row must record (None: it must index fine). The zz- files are ordinary photos
    at scan time; tests replace them while the indexer runs (see `swap_in_traps`)."""
    root.mkdir(parents=True, exist_ok=True)
    Image.new("L", (1, 100_000), 128).save(root / "a-tall-1x100000.png")  # 0.3 KB
    Image.new("L", (100_000, 1), 128).save(root / "b-wide-100000x1.png")
    for name in ("c-sparse-3gb.jpg", "d-sparse-3gb.png"):  # 3 GB that occupy no disk
        with open(root / name, "wb") as f:
            f.truncate(3 << 30)
    (root / "e-bomb.png").write_bytes(_png_header(60_000, 60_000))
    frames = [photo(60, 40, 30 + i) for i in range(3)]
    frames[0].save(root / "f-animated.png", save_all=True, append_images=frames[1:])  # APNG
    frames[0].save(root / "g-animated.gif", save_all=True, append_images=frames[1:])
    (root / "h-broken.gif").write_bytes((root / "g-animated.gif").read_bytes()[:300])
    (root / "i-palette-1000.png").write_bytes(_palette_png(1000))
    photo(64, 48, 40).save(root / "zz-fifo.jpg")
    photo(64, 48, 41).save(root / "zz-zero.png")
    return {
        "a-tall-1x100000.png": None,
        "b-wide-100000x1.png": None,
        "c-sparse-3gb.jpg": "over the limit of 200 MB",
        "d-sparse-3gb.png": "over the limit of 200 MB",
        "e-bomb.png": "megapixels",
        "f-animated.png": None,
        "g-animated.gif": None,
        "h-broken.gif": "not an image",
        "i-palette-1000.png": "invalid palette size",
        "zz-fifo.jpg": "not a regular file",
        "zz-zero.png": "not a regular file",
    }


def swap_in_traps(root: Path) -> None:
    """Replace the zz- photos by what must not hang a reader: a FIFO nobody writes to and a
    symlink to /dev/zero, which never ends."""
    (root / "zz-fifo.jpg").unlink()
    os.mkfifo(root / "zz-fifo.jpg")
    (root / "zz-zero.png").unlink()
    os.symlink("/dev/zero", root / "zz-zero.png")


def _palette_png(entries: int) -> bytes:
    """A 4x4 palette PNG whose palette claims `entries` colours (a PNG allows 256)."""
    header = struct.pack(">IIBBBBB", 4, 4, 8, 3, 0, 0, 0)
    rows = b"".join(b"\0" + bytes([0, 1, 2, 3]) for _ in range(4))
    palette = bytes(i % 256 for i in range(3 * entries))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"PLTE", palette)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
