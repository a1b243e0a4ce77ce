"""This machine's cache folder, $ALTCLIP_CACHE, else ~/.cache/altclip: what is worked out once per
machine and model (the kernels timed, the int8 check, the generic captions' vectors, the text
tower prepared for search under prepared/), each file written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def folder() -> Path:
    if os.environ.get("ALTCLIP_CACHE"):
        return Path(os.environ["ALTCLIP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "altclip")


def write(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    """`fill(f)` into a file beside `path`, then renamed onto it. A cache that cannot be written is
    worked out again next time, nothing worse; the part written is removed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False)
    except OSError:
        return
    try:
        with f:
            fill(f)
        os.replace(f.name, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(f.name)
        if not isinstance(e, OSError):
            raise
