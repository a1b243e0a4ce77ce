"""The indexer on generated folders with a tiny random checkpoint: counts, reasons, thumbnails,
incremental runs, model mismatch, locking and crash safety."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from contextlib import closing
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from altclip_core import hub
from indexer import Indexer, IndexerError
from indexer.cli import main as index_main
from search import Library, catalog
from search.catalog import Catalog, Photo
from search.cli import main as search_main
from search.library_folder import CATALOG, LibraryBusy
from search.vector_index import VectorIndex
from tests import checkpoints
from tests.photos import BAD, GOOD, make_hostile, make_photos

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    make_photos(root / "pictures")
    make_hostile(root / "pictures" / "hostile")
    return root / "pictures"


def rows(library: Path) -> dict[str, Photo]:
    engine = catalog.connect(catalog.catalog_url(library))
    with Session(engine) as s:
        return {p.path: p for p in s.scalars(select(Photo))}


def state(library: Path) -> dict:
    """What a clean run must reproduce: per path, its hash, status, reason and vector."""
    return {p: (r.sha256, r.status, r.error, r.embedding) for p, r in rows(library).items()}


def stored(library: Path) -> int:
    """The rows committed to the library's catalog so far (0 before there is one), read as a
    searcher reads while an indexer writes: read-only, creating nothing."""
    uri = f"file:{urllib.parse.quote(str(library / CATALOG))}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            return db.execute("SELECT count(*) FROM photos").fetchone()[0]
    except sqlite3.Error:
        return 0  # not made yet


def kill_at_random(cmd: list[str], times: int, files: int, library: Path) -> list[int]:
    """Start `cmd` `times` times, each SIGKILLed once it has stored rows its `library` lacked:
    the first at its first commit, so that one kill surely leaves a partial library (a run of
    the tiny model stores its last, failing, files faster than they can be watched); each later
    one once the library holds a random (seeded) number more, up to all `files` (then the kill
    lands while the run finishes: removals, the index, or after). Timed by what is stored, not
    by the clock: on a loaded machine, kills a few seconds after the start may all land before
    the first commit. Returns how many rows the library held after each kill."""
    rng = random.Random(0)
    held = []
    for i in range(times):
        before = stored(library)
        target = before + (1 if i == 0 else rng.randint(1, max(files - before, 1)))
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while proc.poll() is None and stored(library) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # nothing, where the run has ended
        proc.wait()
        held.append(stored(library))
    return held


def index_ids(library: Path) -> set[int]:
    """The photos a searcher finds: the published base, up to date, and no delta left over."""
    index = VectorIndex.open(library / "index", Catalog.open(library))
    assert index.base is not None and not len(index.delta_ids), "the indexer publishes it all"
    return index.photo_ids()


def inside(paths, folder: Path) -> list[str]:
    """The `paths` under `folder`, in their order."""
    return [p for p in paths if p.startswith(str(folder) + os.sep)]


def indexer(library: Path, model: Path, **kw) -> Indexer:
    return Indexer(library=library, model=str(model), max_megapixels=4, batch_size=4, **kw)


def indexed(library: Path, model: Path, copies: dict[Path, Path]):
    """Each folder of `copies` ({folder: the folder copied there}) made and indexed into
    `library`, one run each; returns the indexer's run."""
    run = indexer(library, model).run
    for folder, source in copies.items():
        shutil.copytree(source, folder)
        run([folder])
    return run


def test_indexes_a_photo_folder(photos, tiny, tmp_path):
    library = tmp_path / "lib"
    summary = indexer(library, tiny).run([photos])
    assert (summary.added, summary.failed) == (GOOD, BAD)
    found = rows(library)
    ok = {p: r for p, r in found.items() if r.status == catalog.OK}
    assert len(ok) == GOOD and not any("/.hidden/" in p for p in found)
    assert os.fsdecode(os.path.join(os.fsencode(photos / "2024"), b"caf\xe9-latin1.jpg")) in ok

    reasons = {Path(p).name: r.error for p, r in found.items() if r.status == catalog.ERROR}
    assert reasons["empty.png"] == "empty file"
    assert "truncated" in reasons["truncated.jpg"]
    assert reasons["text.jpg"] == "not an image, or a format Pillow cannot read"
    assert "--max-megapixels" in reasons["huge.png"] and "--max-megapixels" in reasons["bomb.png"]
    assert set(reasons) == {
        "empty.png",
        "truncated.jpg",
        "text.jpg",
        "bomb.png",
        "garbage.webp",
        "huge.png",
    }

    rotated = ok[str(photos / "2023" / "rotated.JPG")]
    assert (rotated.width, rotated.height) == (640, 480)  # stored 480x640, shown rotated
    assert rotated.taken_at == datetime(2023, 6, 15, 18, 30)
    for r in ok.values():
        assert np.linalg.norm(r.vector) == pytest.approx(1, abs=1e-5)
        thumb = library / "thumbs" / r.sha256[:2] / f"{r.sha256}.webp"
        assert thumb.is_file() and max(Image.open(thumb).size) <= 256
        # The viewer's preview: the photo as shown (upright), never larger than it is.
        preview = Image.open(library / "previews" / r.sha256[:2] / f"{r.sha256}.jpg")
        assert preview.size == (r.width, r.height)  # all test photos are under 1600 px
    assert index_ids(library) == {r.id for r in ok.values()}


def test_previews_are_screen_size_and_decoded_no_larger_than_needed(tiny, tmp_path):
    """A 12-megapixel JPEG gets a 1600-pixel preview and a 256-pixel thumbnail, upright."""
    from tests.photos import exif, photo

    (tmp_path / "photos").mkdir()
    photo(3000, 4000, 1).save(tmp_path / "photos" / "big.jpg", exif=exif(6), quality=80)
    library = tmp_path / "lib"
    Indexer(library=library, model=str(tiny)).run([tmp_path / "photos"])
    (r,) = rows(library).values()
    assert (r.width, r.height) == (4000, 3000)
    named = f"{r.sha256[:2]}/{r.sha256}"
    assert Image.open(library / "previews" / f"{named}.jpg").size == (1600, 1200)
    assert Image.open(library / "thumbs" / f"{named}.webp").size == (256, 192)


def test_vectors_equal_the_model_on_the_same_pixels(photos, tiny, tmp_path):
    """Exact decoding embeds exactly what altclip_core gives for the opened image."""
    import altclip_core

    library = tmp_path / "lib"
    indexer(library, tiny, exact_decode=True).run([photos / "2023"])
    model = altclip_core.load(tiny, towers=("vision",))
    for path, r in rows(library).items():
        expected = model.embed_images([altclip_core.open_image(path)])[0].numpy()
        assert np.abs(r.vector - expected).max() < 1e-4


def test_incremental_runs(photos, tiny, tmp_path):
    folder = shutil.copytree(photos / "2024", tmp_path / "photos")
    library = tmp_path / "lib"
    run = indexer(library, tiny).run
    first = run([folder])
    assert run([folder]).unchanged == first.added + first.failed

    before = rows(library)
    square = folder / "square.png"
    os.utime(square, ns=(time.time_ns(), time.time_ns() + 10**9))  # touch
    shutil.copy(folder / "wide.webp", folder / "copy-of-wide.webp")  # identical copy
    (folder / "tall.bmp").rename(folder / "renamed.bmp")  # move
    (folder / "scan.tiff").unlink()  # delete
    from tests.test_parity import photo

    photo(300, 300, 99).save(folder / "palette.png")  # edit: new content, same name
    summary = run([folder])
    assert (summary.updated, summary.added, summary.moved, summary.removed) == (2, 1, 1, 1)

    after = rows(library)
    assert after[str(square)].embedding == before[str(square)].embedding
    assert (
        after[str(folder / "copy-of-wide.webp")].embedding
        == after[str(folder / "wide.webp")].embedding
    )
    assert (
        after[str(folder / "renamed.bmp")].embedding == before[str(folder / "tall.bmp")].embedding
    )
    assert str(folder / "scan.tiff") not in after and str(folder / "tall.bmp") not in after
    assert (
        after[str(folder / "palette.png")].embedding
        != before[str(folder / "palette.png")].embedding
    )
    ok_ids = {r.id for r in after.values() if r.status == catalog.OK}
    assert index_ids(library) == ok_ids
    used = {r.sha256 for r in after.values() if r.status == catalog.OK}
    assert {p.stem for p in (library / "thumbs").glob("*/*.webp")} == used
    assert {p.stem for p in (library / "previews").glob("*/*.jpg")} == used


def test_a_renamed_folder_moves_its_photos(photos, tiny, tmp_path):
    """Indexed as ~/Pictures/trip, then renamed and indexed as ~/Pictures/trip-2023: its photos
    move (vectors kept, nothing embedded again), and none stays behind under the old name, which
    no run would visit again. Photos of another folder that still exists are left alone."""
    old, other = tmp_path / "trip", tmp_path / "other"  # the same bytes, both there
    library = tmp_path / "lib"
    run = indexed(library, tiny, {old: photos / "2024", other: photos / "2024"})
    before = rows(library)
    new = old.rename(tmp_path / "trip-2023")
    summary = run([new])
    ok = sum(before[p].status == catalog.OK for p in inside(before, old))
    assert (summary.moved, summary.added, summary.removed) == (ok, 0, 0)
    after = rows(library)
    assert not inside(after, old)
    assert all(p in after for p in inside(before, other))
    for p in inside(before, old):
        if before[p].status == catalog.OK:
            assert after[p.replace(str(old), str(new), 1)].embedding == before[p].embedding


def test_a_rename_stopped_halfway_finishes_and_an_unmounted_drive_keeps_its_photos(
    photos, tiny, tmp_path
):
    """A run over a renamed folder stopped after its first batch: the next run moves the rest,
    those stored already included. A drive gone from its mount point (the folder above it still
    there, the photos' copies elsewhere) only looks like a move: its photos are kept."""
    import threading

    old, mount = tmp_path / "P" / "trip", tmp_path / "mnt" / "nas"
    library = tmp_path / "lib"
    run = indexed(library, tiny, {old: photos / "2024", mount: photos / "2024"})
    on_drive = inside(rows(library), mount)
    new = old.rename(tmp_path / "P" / "trip-2023")
    stop = threading.Event()
    stop.set()  # stops after the first batch
    assert run([new], stop=stop).interrupted
    run([new])
    assert not inside(rows(library), old)

    shutil.rmtree(mount)  # unmounted: tmp_path/mnt stays, empty
    local = shutil.copytree(photos / "2024", tmp_path / "Pictures")
    run([local])
    assert all(p in rows(library) for p in on_drive)


def test_a_deleted_folder_is_named_and_its_photos_can_be_forgotten(photos, tiny, tmp_path, capsys):
    """A photo folder deleted: indexing it says how many photos the library still holds from it
    and the command that forgets them, which removes those and no others."""
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    library = tmp_path / "lib"
    indexed(library, tiny, {gone: photos / "2024", kept: photos / "2023"})
    held = inside(rows(library), gone)
    shutil.rmtree(gone)
    args = ["--library", str(library), "--model", str(tiny)]
    assert index_main([str(gone), *args]) == 1
    err = capsys.readouterr().err
    assert f"the library holds {len(held)} photos from it" in err and "--forget" in err
    assert index_main(["--forget", str(gone), "--library", str(library)]) == 0
    assert f"{len(held)} photos" in capsys.readouterr().out
    left = rows(library)
    assert left and inside(left, kept) == list(left)
    assert index_main([str(gone), *args]) == 1
    assert "--forget" not in capsys.readouterr().err
    assert index_main([str(kept), "--forget", str(gone), "--library", str(library)]) == 2


def test_a_plan_reads_only_the_rows_under_its_places(photos, tiny, tmp_path):
    """A plan over one folder of a library never reads every row (Catalog.known), and holds
    only the rows of the files it reads or removes: a file place is one row, looked up."""
    from indexer.plan import make_plan

    a, b = tmp_path / "a", tmp_path / "b"
    library = tmp_path / "lib"
    indexed(library, tiny, {a: photos / "2024", b: photos / "2023"})

    class Partial(Catalog):
        def known(self, rebuild: bool = False):
            raise AssertionError("a plan read every row")

    (a / "square.png").unlink()
    plan = make_plan(Partial.open(library), [str(a)], False)
    held = len(inside(rows(library), a))
    assert plan.gone == [str(a / "square.png")] and not plan.todo
    assert set(plan.known) == set(plan.gone) and plan.unchanged == held - 1
    os.utime(a / "wide.webp", ns=(1, 1))  # changed: to be read again
    plan = make_plan(
        Partial.open(library), [str(a)], False, places=[("file", str(a / "wide.webp"))]
    )
    assert [e.path for e in plan.todo] == [str(a / "wide.webp")] and set(plan.known) == {
        str(a / "wide.webp")
    }
    many = [("file", str(a / f"burst-{i}.jpg")) for i in range(1500)]  # a burst of events
    assert not make_plan(Partial.open(library), [str(a)], False, places=many).todo


def test_a_library_among_the_photos_is_not_indexed(photos, tiny, tmp_path):
    """`altclip-index .` in a photo folder keeps its library in ./data, under the folder it
    scans: its thumbnails and previews are not photos, on the first run or any later one."""
    folder = shutil.copytree(photos / "2024", tmp_path / "photos")
    run = indexer(folder / "data", tiny).run
    first = run([folder])
    again = run([folder])
    assert (again.added, again.unchanged) == (0, first.added + first.failed)
    assert not inside(rows(folder / "data"), folder / "data")


def test_another_model_needs_rebuild(photos, tiny, spm_path, tmp_path):
    library = tmp_path / "lib"
    indexer(library, tiny).run([photos / "2023"])
    other = tmp_path / "m18"
    checkpoints.build(other, spm_path, "m18")
    with pytest.raises(IndexerError, match="--rebuild"):
        indexer(library, other).run([photos / "2023"])
    summary = indexer(library, other).run([photos / "2023"], rebuild=True)
    assert summary.added == 3
    assert {len(r.vector) for r in rows(library).values()} == {20}


def test_a_library_recorded_with_the_old_fingerprint_goes_on(photos, tiny, tmp_path):
    """Libraries made before fingerprints hashed every byte recorded each file's size, first and
    last MB: they index and search on with the same model, no --rebuild asked."""
    library, mine = tmp_path / "lib", tmp_path / "photos"
    shutil.copytree(photos / "2023", mine)
    indexer(library, tiny).run([mine])
    with closing(sqlite3.connect(library / CATALOG)) as db, db:
        db.execute("UPDATE model SET fingerprint = ?", (hub._sampled(tiny),))
    Image.new("RGB", (64, 48), "red").save(mine / "later.jpg")
    assert indexer(library, tiny).run([mine]).added == 1
    assert len(Library.open(library).search("a photo", k=10)) == 4
    # A rebuild begun then is resumed, not begun again.
    stop = threading.Event()
    stop.set()  # after the first batch
    rebuild = Indexer(library=library, model=str(tiny), max_megapixels=4, batch_size=1)
    assert rebuild.run([mine], rebuild=True, stop=stop).added == 1
    with closing(sqlite3.connect(library / CATALOG)) as db, db:
        (pending,) = db.execute("SELECT value FROM meta WHERE key = 'rebuild_model'").fetchone()
        pending = json.loads(pending) | {"fingerprint": hub._sampled(tiny)}
        db.execute("UPDATE meta SET value = ? WHERE key = 'rebuild_model'", (json.dumps(pending),))
    assert rebuild.run([mine], rebuild=True).added == 3


def test_second_indexer_is_refused(photos, tiny, tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    with open(library / "indexer.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(LibraryBusy, match="another altclip-index"):
            indexer(library, tiny).run([photos / "2023"])


def test_cli(photos, tiny, tmp_path, capsys):
    library = tmp_path / "lib"
    args = [str(photos), "--library", str(library), "--model", str(tiny), "--max-megapixels", "4"]
    assert index_main(args) == 0
    out = capsys.readouterr().out
    assert f"{GOOD} added" in out and f"{BAD} failed" in out and "--report" in out
    assert index_main(["--report", "--library", str(library)]) == 0
    captured = capsys.readouterr()
    assert "empty.png\tempty file" in captured.out and f"{BAD} file(s)" in captured.err
    assert index_main([str(tmp_path / "nowhere"), "--library", str(library)]) == 1
    assert "is not a folder" in capsys.readouterr().err
    one = next(p for p in photos.rglob("*.jpg"))  # a photo, not its folder: no --forget advice
    assert index_main([str(one), "--library", str(library)]) == 1
    said = capsys.readouterr().err
    assert said == f"altclip-index: {one} is a file: name the folder that holds it\n"
    assert index_main(["--library", str(library)]) == 2


def test_a_bad_library_or_device_is_one_line(photos, tiny, tmp_path, capsys):
    """A library that is a file; a device that is a typo or a GPU the machine has not: one line
    (naming the devices it has, not blaming the model), checked before anything is done."""
    import torch

    missing = "mps" if torch.cuda.is_available() else "cuda"
    (tmp_path / "a-file").touch()
    args = [str(photos), "--library", str(tmp_path / "a-file"), "--model", str(tiny)]
    assert index_main(args) == 1
    assert (
        capsys.readouterr().err
        == f"altclip-index: {tmp_path / 'a-file'} is a file; --library names a folder\n"
    )
    assert search_main(["red", "--library", str(tmp_path / "a-file")]) == 1
    assert (
        capsys.readouterr().err
        == f"altclip-search: {tmp_path / 'a-file'} is a file; --library names a folder\n"
    )
    args = [str(photos / "2023"), "--library", str(tmp_path / "lib"), "--model", str(tiny)]
    assert index_main(args) == 0  # then nothing is left to embed: only the first check can see
    capsys.readouterr()
    for device in ("banana", missing):
        assert index_main([*args, "--device", device]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("altclip-index: ") and "this machine has" in err
        assert "\n" not in err and "model" not in err


def test_a_full_disk_stops_the_run_in_one_line_and_loses_nothing(
    photos, tiny, tmp_path, capsys, monkeypatch
):
    """No space for a thumbnail is the library's disk, not the photo's fault: one line, no
    photo recorded as failed, no part-written picture left; the next run finishes the job."""
    save, written = Image.Image.save, []

    def full(image, fp, *args, **kwargs):
        if "thumbs" in str(fp) or "previews" in str(fp):
            if len(written) == 10:  # five photos' pictures fit, then the disk is full
                Path(fp).write_bytes(b"part")  # as far as the disk let it write
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written.append(fp)
        return save(image, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full)
    args = [str(photos), "--library", str(tmp_path / "lib"), "--model", str(tiny)]
    assert index_main(args) == 1
    assert capsys.readouterr().err == (
        f"altclip-index: cannot write into {tmp_path / 'lib'} (No space left on device): free "
        "space there, or make it writable, and run again (a stopped run finishes where it "
        "stopped)\n"
    )
    assert not [p for p in (tmp_path / "lib").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not [r for r in rows(tmp_path / "lib").values() if r.status == catalog.ERROR]
    monkeypatch.setattr(Image.Image, "save", save)
    indexer(tmp_path / "lib", tiny).run([photos])
    found = rows(tmp_path / "lib").values()
    assert sum(r.status == catalog.OK for r in found) == GOOD  # as a clean run's
    assert sum(r.status == catalog.ERROR for r in found) == BAD


def test_kill_at_random_points_then_resume_equals_a_clean_run(photos, tiny, tmp_path):
    library = tmp_path / "crashy"
    cmd = [
        sys.executable,
        "-m",
        "indexer",
        str(photos),
        "--library",
        str(library),
        "--model",
        str(tiny),
        "--max-megapixels",
        "4",
        "--batch-size",
        "2",
    ]
    clean = tmp_path / "clean"  # the same command, never killed
    subprocess.run([*cmd[:5], str(clean), *cmd[6:]], cwd=ROOT, check=True, capture_output=True)
    held = kill_at_random(cmd, 4, GOOD + BAD, library)
    assert any(0 < n < GOOD + BAD for n in held), f"no kill left a partial library: {held}"
    assert subprocess.run(cmd, cwd=ROOT, capture_output=True).returncode == 0
    assert state(library) == state(clean)
    ok_ids = {r.id for r in rows(library).values() if r.status == catalog.OK}
    assert index_ids(library) == ok_ids


DEVICES = ["cpu"] + (["cuda"] if __import__("torch").cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_indexes_on_an_explicit_device(photos, tiny, tmp_path, device):
    """Inputs move to the model's device inside encode_*: the same vectors on any device (CI
    has the CPU; a GPU machine runs CUDA too, in its default dtype, to a cosine of 0.999)."""
    indexer(tmp_path / "default", tiny).run([photos / "2023"])
    indexer(tmp_path / device, tiny, device=device).run([photos / "2023"])
    a, b = rows(tmp_path / "default"), rows(tmp_path / device)
    for path, r in a.items():
        assert float(r.vector @ b[path].vector) > 0.999


def test_int8_checks_itself_and_falls_back_to_the_exact_model(
    photos, tiny, tmp_path, monkeypatch, capsys
):
    from altclip_core import cache

    exact = indexer(tmp_path / "exact", tiny)
    exact.run([photos])
    warnings = []
    summary = indexer(tmp_path / "int8", tiny, int8=True, warn=warnings.append).run([photos])
    assert summary.int8_cosine >= cache.INT8_MIN_COSINE and not warnings
    assert "int8 checked: minimum cosine" in str(summary)
    want = {Path(p).name: r.vector for p, r in rows(tmp_path / "exact").items() if r.embedding}
    got = {Path(p).name: r.vector for p, r in rows(tmp_path / "int8").items() if r.embedding}
    ok = list(want)
    assert min(float(want[n] @ got[n]) for n in ok) > 0.99  # int8, so close but not equal
    assert any(not np.array_equal(want[n], got[n]) for n in ok)

    # A model int8 would move too far (here: any model, with the bar above 1) is used exactly.
    monkeypatch.setattr(cache, "INT8_MIN_COSINE", 1.01)
    summary = indexer(tmp_path / "strict", tiny, int8=True, warn=warnings.append).run([photos])
    assert "indexing with the exact model" in warnings[0]
    got = {Path(p).name: r.vector for p, r in rows(tmp_path / "strict").items() if r.embedding}
    assert all(np.array_equal(want[n], got[n]) for n in ok)
    index_main([str(photos), "--library", str(tmp_path / "cli"), "--model", str(tiny), "--int8"])
    assert "int8 moves this model's embeddings too far" in capsys.readouterr().err


def test_the_time_left_is_estimated_after_the_model_has_loaded(monkeypatch, capsys):
    from indexer import progress as shown

    clock = iter([0.0, 30.0, 40.0, 50.0])  # enter; the first batch at 30 s (model load); ...
    monkeypatch.setattr(shown.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(shown.sys.stderr, "isatty", lambda: False)
    with shown.Progress() as progress:
        progress(16, 20_000)
        progress(32, 20_000)  # 16 files in 10 s after the first batch: 1.6 files/s
        progress(48, 20_000)
    err = capsys.readouterr().err
    assert err.count("to go") == 1 and "about 3 h 28 min to go for 19968 files" in err


def test_the_cuda_batch_fits_a_quarter_of_the_cards_free_memory():
    """The GPU path's batch rule, checked on CPU (no GPU here: the GPU path itself is untested
    in CI). ViT-L/14 at 224 px in bf16 holds ~6.3 MB of activations an image."""
    from altclip_core.config import VisionConfig
    from indexer.embed import cuda_batch

    vit_l = VisionConfig(image_size=224, patch_size=14, hidden_size=1024)
    assert cuda_batch(8 * 2**30, vit_l, 2) == 256  # 2 GiB / 6.3 MB = 340 -> 256
    assert cuda_batch(80 * 2**30, vit_l, 2) == 1024  # capped: larger batches stop paying
    assert cuda_batch(10 * 2**20, vit_l, 2) == 8  # never below 8
    assert cuda_batch(8 * 2**30, vit_l, 4) == 128  # float32 (fp32-only cards) halves it
