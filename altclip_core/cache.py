"""This machine's cache folder, $ALTCLIP_CACHE, else ~/.cache/altclip: what is worked out once per
machine and model (the kernels timed, the int8 check, the generic captions' vectors, the text
tower prepared for search under prepared/, the index bases found intact this boot), each file
written whole or not at all."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: the engine runs there; its verdicts are written without a lock
    fcntl = None

# int8 embeddings must stay this close to the exact ones on a check's inputs, or the exact model
# is used. A cosine c leaves an error vector of length sqrt(2 - 2c) (0.14 at 0.99) spread over the
# embedding's ~768 dimensions, so it moves a query's score by about 0.14 / sqrt(768) = 0.005: a
# tenth of the gaps between the scores of matching and unrelated photos.
INT8_MIN_COSINE = 0.99


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


def remembered(name: str, *fields) -> float | str | None:
    """The value `remember` kept for `name` on this machine and `fields`, if any."""
    value = _read(verdicts()).get(key(name, *fields))
    return value if isinstance(value, float | str) else None


def remember(name: str, value: float | str, *fields) -> None:
    """Keep a check's result (int8's minimum cosine for a model, a kernel timed, an index found
    intact) for this machine and `fields` (the library versions it depends on, say); one process
    at a time, so that none drops another's."""
    try:
        verdicts().parent.mkdir(parents=True, exist_ok=True)
        lock = open(verdicts().with_suffix(".lock"), "a")  # noqa: SIM115 (held while it writes)
    except OSError:  # no cache to keep it in: worked out again next time
        return
    with lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        _write(verdicts(), {**_read(verdicts()), key(name, *fields): value})


def as_it_stands(path: Path) -> tuple[int, ...]:
    """A file as it stands: its device, inode, size, modification and change times. A check of
    its bytes (a hash, a CRC) holds while these do: the change time moves with every write on a
    local Linux file system, even one whose modification time is set back."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def verdicts() -> Path:
    """Where remembered verdicts are kept: kernels.json, its name from when kernels were all."""
    return folder() / "kernels.json"


def key(*fields) -> str:
    """What a verdict on this machine depends on, as a short hash: the CPU (model and flags) and
    `fields`."""
    return hashlib.sha256(json.dumps([*cpu(), *fields]).encode()).hexdigest()[:16]


@functools.cache
def cpu() -> tuple[str, ...]:
    """This machine's CPU: its model name and flags as /proc/cpuinfo has them (the flags last);
    elsewhere what `platform.processor()` says. Read once per process."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return (platform.processor(),)
    found = [x.split(":", 1)[1].strip() for x in lines if x.startswith(("model name", "flags"))]
    return tuple(found[:2])


def cpu_flags() -> frozenset[str]:
    """The CPU's flags as x86 Linux lists them ("avx512_vnni", "avx512_bf16", ...); none where
    /proc/cpuinfo has no model name and flags (ARM's lists "Features"), or there is none."""
    found = cpu()
    return frozenset(found[1].split()) if len(found) == 2 else frozenset()


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict) -> None:
    write(path, lambda f: f.write(json.dumps(data).encode()))
