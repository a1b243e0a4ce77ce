"""No traceback, one true line (issue 26): a folder 1 000 levels deep, photo ids no 64-bit integer
holds, zoned and plain dates together, file names that would hide or reverse text on a terminal,
a folder filter with a NUL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from indexer import Indexer
from indexer.scan import scan
from search import Library, SearchError
from search.library_folder import MARKER
from search.terminal import escaped, hidden
from tests.conftest import AS_USER
from tests.test_parity import photo

ROOT = Path(__file__).resolve().parents[1]
# Names that print like others, or reverse what follows them: a zero-width space, a bidi override
# (「x\u202egnp.jpg」 shows as 「xgpj.png」), isolates, joiners, a soft hyphen, a byte-order mark.
LOOKALIKES = [
    "IMG_0001.jpg",
    "IMG_0001\u200b.jpg",
    "IMG_0001\u200d.jpg",
    "IMG_0001\u200f.jpg",
    "IMG_0001\u00ad.jpg",
    "IMG_0001\ufeff.jpg",
    "IMG_0001\ufe0f.jpg",
    "x\u202egnp.jpg",
    "\u2067y\u2069.jpg",
]


def cli(tool: str, *args, tz: str = "UTC") -> subprocess.CompletedProcess:
    """`altclip-index`, `altclip-search` or `altclip-classify` (`tool`: indexer, search or
    classify) run with `args`, in the time zone `tz`."""
    env = os.environ | {"LC_ALL": "C.UTF-8", "HF_HUB_OFFLINE": "1", "TZ": tz}
    run = ["-c", "import sys, search.cli; sys.exit(search.cli.classify())"]
    run = run if tool == "classify" else ["-m", tool]
    cmd = [*AS_USER, sys.executable, *run, *map(os.fsencode, args)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=300, env=env)


def test_a_folder_a_thousand_levels_deep_is_indexed(tiny, tmp_path):
    photos, deep = tmp_path / "photos", str(tmp_path / "photos")
    for _ in range(1000):  # a legal path of 2 KB (os.makedirs recurses too deep for it)
        deep = os.path.join(deep, "d")
        os.makedirs(deep)
    try:
        photo(64, 48, 1).save(os.path.join(deep, "bottom.png"))
        photo(64, 48, 2).save(photos / "top.png")
        summary = Indexer(library=tmp_path / "lib", model=str(tiny)).run([photos])
        assert (summary.added, summary.failed) == (2, 0)
        lib = Library.open(tmp_path / "lib")
        found = {h.path for h in lib.search("a photo", k=5)}
        assert found == {os.path.join(deep, "bottom.png"), str(photos / "top.png")}
    finally:  # shutil.rmtree (pytest's clean-up) recurses too deep for it as well
        for name in os.listdir(deep):
            os.remove(os.path.join(deep, name))
        while deep != str(photos):
            os.rmdir(deep)
            deep = os.path.dirname(deep)


def test_the_walk_keeps_its_order_and_its_warnings_are_one_line(tmp_path):
    """Depth-first, in byte order of the full paths (the order the catalog streams its rows in:
    a.jpg before a/x.jpg); a symlink loop and a library folder skipped with one line each,
    whatever their names."""
    for name in ("a/x.jpg", "a/y/z.png", "a.jpg", "b/c.jpg", "b.jpg", ".h/no.jpg", "n.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    fake = "e\x1b[2K\rwarning: all photos deleted\n"  # would print a line of its own
    (tmp_path / fake).mkdir()
    (tmp_path / fake / MARKER).write_bytes(b"")
    (tmp_path / fake / "thumb.jpg").write_bytes(b"x")
    (tmp_path / "a" / "y" / "loop\u202e").symlink_to(tmp_path / "a")
    said: list[str] = []
    found = [e.path for e in scan([tmp_path], warn=said.append)]
    assert found == [
        str(tmp_path / n) for n in ("a.jpg", "a/x.jpg", "a/y/z.png", "b.jpg", "b/c.jpg")
    ]
    assert found == sorted(found, key=os.fsencode)
    assert sorted(said) == [
        f"skipped {tmp_path}/a/y/loop\\u202e: a symlink loop or a folder already scanned",
        f"skipped {tmp_path}/e\\x1b[2K\\rwarning: all photos deleted\\n: "
        "a library's own thumbnails and previews, not photos",
    ]


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, 10**30, -1, np.uint64(2**63)])
def test_photo_ids_no_photo_has_are_not_found(photo_library, bad):
    lib = Library.open(photo_library)
    with pytest.raises(SearchError, match="no photo"):
        lib.search(like=bad)
    with pytest.raises(SearchError, match="no photo"):
        lib.classify(bad, ["cat", "dog"])
    with pytest.raises(SearchError, match="not in this library"):
        lib.explain(bad, "cat")
    assert lib.photo_path(bad) is None and lib.open_photo(bad) is None
    with pytest.raises(SearchError, match="not in the index"):
        lib.yardsticks("cat", np.array([bad]))


def test_a_numpy_id_is_an_id(photo_library):
    lib = Library.open(photo_library)
    hit = lib.search("a photo", k=1)[0]
    assert lib.classify(np.int64(hit.id), ["cat", "dog"]) == lib.classify(hit.id, ["cat", "dog"])


def test_zoned_and_plain_dates_mix_as_moments_here(photo_library):
    """rotated.JPG was taken 2023-06-15 18:30 (EXIF, no zone). Midnight of the 16th at +14:00 is
    10:00 on the 15th in UTC, where it was taken after that; at +14:00 it is that midnight."""
    args = ["a photo", "--library", photo_library, "--json"]
    dates = ["--after", "2023-06-16T00:00:00+14:00", "--before", "2023-06-17"]
    in_utc = cli("search", *args, *dates)
    assert in_utc.returncode == 0, in_utc.stderr
    found = [Path(json.loads(line)["path"]).name for line in in_utc.stdout.splitlines()]
    assert found == ["rotated.JPG"]
    at_plus_14 = cli("search", *args, *dates, tz="<+14>-14")  # POSIX for UTC+14: no tzdata needed
    assert at_plus_14.returncode == 0 and not at_plus_14.stdout, at_plus_14.stderr
    assert b"no photo matches" in at_plus_14.stderr

    lib = Library.open(photo_library)
    moment = datetime(2023, 6, 15, 18, 30, tzinfo=timezone(timedelta(hours=3)))
    local = moment.astimezone().replace(tzinfo=None)
    hits = lib.search("a photo", k=50, after=moment, before=date(2023, 6, 16))
    assert ("rotated.JPG" in {Path(h.path).name for h in hits}) == (
        local <= datetime(2023, 6, 15, 18, 30)
    )
    with pytest.raises(SearchError, match="wrong way round"):
        lib.search("a photo", after="2023-06-02T00:00+00:00", before=datetime(2023, 6, 1))
    assert lib.search("a photo", after="0001-01-01T00:00+14:00", before="9999-12-31T23:59-12:00")


def test_escaped_shows_every_invisible_or_reversing_character():
    shown = [escaped(n) for n in LOOKALIKES]
    assert len(set(shown)) == len(shown)
    assert shown[1] == "IMG_0001\\u200b.jpg" and shown[7] == "x\\u202egnp.jpg"
    for line in shown:
        assert not any(hidden(c) for c in line), line
    for c in "\u2066\u2068\u202a\u202d\u061c\u2060\u180e\u034f\u3164\U000e0100\U000e0041":
        assert escaped(f"a{c}b") != f"a{c}b", hex(ord(c))
    # What draws something stays: accents (NFD, as macOS writes names), CJK, emoji, spaces.
    for name in ("Ko\u0308ln", "旅行 2023", "🐱.jpg", "naïve"):
        assert escaped(name) == name


@pytest.fixture(scope="module")
def lookalike_library(tmp_path_factory, tiny):
    """A library of LOOKALIKES indexed by `altclip-index`, beside a library folder whose name
    would forge a warning line; (photos, library, the index run)."""
    photos = tmp_path_factory.mktemp("lookalikes")
    for i, name in enumerate(LOOKALIKES):
        photo(64, 48, 30 + i).save(photos / name, "PNG")
    fake = photos / "e\x1b[2K\rwarning: all photos deleted\nrest"
    fake.mkdir()
    (fake / MARKER).write_bytes(b"")
    library = tmp_path_factory.mktemp("lookalikes-lib")
    indexed = cli("indexer", photos, "--library", library, "--model", tiny)
    assert indexed.returncode == 0, indexed.stderr
    return photos, library, indexed


def test_the_indexers_warnings_are_one_true_line_each(lookalike_library):
    photos, _, indexed = lookalike_library
    err = indexed.stderr.decode("utf-8")
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: skipped {photos}/e\\x1b[2K\\rwarning: all photos deleted\\nrest: "
        "a library's own thumbnails and previews, not photos"
    ]
    assert "\x1b" not in err


def test_the_command_lines_show_lookalike_names_apart(lookalike_library):
    photos, library, _ = lookalike_library
    plain = cli("search", "a photo", "--library", library, "-k", "20")
    assert plain.returncode == 0, plain.stderr
    printed = plain.stdout.decode("utf-8")
    assert not any(hidden(c) for c in printed.replace("\t", "").replace("\n", ""))
    assert sorted(line.split("\t")[1] for line in printed.splitlines()) == sorted(
        f"{photos}/{escaped(n)}" for n in LOOKALIKES
    )
    as_json = cli("search", "a photo", "--library", library, "--json")
    printed = as_json.stdout.decode("utf-8")
    assert not any(hidden(c) for c in printed.replace("\n", ""))
    found = {json.loads(line)["path"] for line in printed.splitlines()}
    assert found == {str(photos / n) for n in LOOKALIKES}  # JSON keeps the exact names

    shown = photos / LOOKALIKES[7]
    classified = cli("classify", shown, "--library", library, "--labels", "cat", "dog\u202e")
    assert classified.returncode == 0, classified.stderr
    assert classified.stdout.decode("utf-8").startswith(f"{photos}/x\\u202egnp.jpg\t")
    assert "\u202e" not in classified.stdout.decode("utf-8")


def test_a_folder_filter_with_a_nul_is_refused(photo_library):
    lib = Library.open(photo_library)
    assert len(lib.search("a photo", k=50)) > 1
    for folder in ("\x00", "2023\x00", 5):
        with pytest.raises(SearchError, match="folder|control character"):
            lib.search("a photo", folder=folder)
