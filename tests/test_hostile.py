"""Nothing lost, nothing leaked: the indexer, the command lines and the API against hostile files,
files swapped while they are read, damaged models, folders that become unreadable and Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from indexer.cli import main as index_main
from search import Library, SearchError, catalog, schema
from search.catalog import Catalog, Photo
from tests import checkpoints
from tests.conftest import AS_USER
from tests.photos import make_attacks, make_photos
from tests.test_parity import photo

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).with_name("fixtures")


def cli(tool: str, *args, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    env = os.environ | {"LC_ALL": "C.UTF-8", "HF_HUB_OFFLINE": "1"}
    cmd = [*AS_USER, sys.executable, "-m", tool, *map(os.fsencode, args)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout, env=env, **kw)


def rows(library: Path, table=Photo) -> dict[str, Photo]:
    """The catalog's rows, read as a searcher would (nothing written, none while it is made)."""
    try:
        engine = catalog.connect(catalog.catalog_url(library), read_only=True)
    except catalog.CatalogError:
        return {}
    with Session(engine) as s:
        return {p.path: p for p in s.scalars(select(table))}


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error a person sees: one line, no traceback."""
    err = result.stderr.decode()
    assert result.returncode != 0 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


# Peak RSS of a child since it started: VmHWM (ru_maxrss would also count the test process's
# pages the child shared between fork and exec).
PEAK = """
def peak_mb():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM")).split()[1]) // 1024
"""
CHILD = (
    PEAK
    + """
import sys
from pathlib import Path
from indexer import Indexer
from tests.photos import swap_in_traps
root, library, model = (Path(a) for a in sys.argv[1:4])

def progress(done, total):  # after the first photo: the scan has seen the zz- files as photos
    if done == 1:
        swap_in_traps(root)

s = Indexer(library=library, model=str(model), batch_size=1).run([root], progress=progress)
print(s.added, s.failed, peak_mb())
"""
)


def test_hostile_folder_is_indexed_in_bounded_memory_without_hanging(tiny, tmp_path):
    photos, library = tmp_path / "photos", tmp_path / "lib"
    expected = make_attacks(photos)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, photos, library, tiny],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a FIFO or /dev/zero read would never end
    )
    assert result.returncode == 0, result.stderr
    added, failed, peak_mb = map(int, result.stdout.split())
    assert peak_mb <= 1500, f"peak RSS {peak_mb} MB"
    found = {Path(p).name: r for p, r in rows(library).items()}
    assert set(found) == set(expected)
    for name, reason in expected.items():
        if reason is None:
            assert found[name].status == catalog.OK, (name, found[name].error)
        else:
            assert found[name].status == catalog.ERROR and reason in found[name].error, name
    assert (added, failed) == (4, 7)


def test_query_images_are_bounded_too(photo_library, tmp_path):
    """The API reads a query image as the indexer does: a 1x100000 PNG costs kilobytes, a FIFO
    ends at once, bytes are accepted and never echoed in an error."""
    child = (
        PEAK
        + """
import sys
from search import Library, SearchError
lib = Library.open(sys.argv[1])
lib.search(image=sys.argv[2])
lib.search(image=open(sys.argv[2], "rb").read())
try:
    lib.search(image=sys.argv[3])
except SearchError as e:
    print(e, file=sys.stderr)
print(peak_mb())
"""
    )
    tall = tmp_path / "tall.png"
    Image.new("L", (1, 100_000), 200).save(tall)
    os.mkfifo(tmp_path / "fifo.jpg")
    result = subprocess.run(
        [sys.executable, "-c", child, photo_library, tall, tmp_path / "fifo.jpg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) <= 1500 and "not a regular file" in result.stderr


def test_api_refuses_bad_arguments_clearly(photo_library):
    lib = Library.open(photo_library)
    for k in ("5", 2.5, True, None):
        with pytest.raises(SearchError, match="k must be a whole number"):
            lib.search("cat", k=k)
    with pytest.raises(SearchError, match="0x0 pixels"):
        lib.search(image=Image.new("RGB", (0, 0)))
    payload = b"\x89PNG not really" + os.urandom(50_000)
    with pytest.raises(SearchError) as e:
        lib.search(image=payload)
    assert len(str(e.value)) < 200 and "the image cannot be read" in str(e.value)
    assert lib.search("caf\udce9", k=3)  # a lone surrogate from a command line searches as �


@pytest.fixture()
def odd_library(tiny, tmp_path):
    """A library whose names hold a newline, a tab, a backslash and bytes that are not UTF-8."""
    photos = tmp_path / "photos"
    photos.mkdir()
    names = [b"line\nbreak.jpg", b"tab\there.png", b"back\\slash.jpg", b"caf\xe9.jpg"]
    for i, name in enumerate(names):
        photo(80, 60, 50 + i).save(os.path.join(os.fsencode(photos), name), "PNG")
    (photos / "broken\nname.jpg").write_bytes(b"no jpeg")
    library = tmp_path / "lib"
    assert cli("indexer", photos, "--library", library, "--model", tiny).returncode == 0
    return photos, library, [os.fsdecode(os.path.join(os.fsencode(photos), n)) for n in names]


def test_command_lines_print_one_record_per_line_and_valid_json(odd_library):
    photos, library, paths = odd_library
    plain = cli("search", "a photo", "--library", library, "-k", "10")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.decode("utf-8").splitlines()
    assert len(lines) == len(paths)
    assert {line.split("\t")[1] for line in lines} == {
        f"{photos}/line\\nbreak.jpg",
        f"{photos}/tab\\there.png",
        f"{photos}/back\\\\slash.jpg",
        f"{photos}/caf\\xe9.jpg",
    }
    as_json = cli("search", "a photo", "--library", library, "--json")
    found = [json.loads(line) for line in as_json.stdout.decode("utf-8").splitlines()]
    assert sorted(os.fsencode(f["path"]) for f in found) == sorted(map(os.fsencode, paths))

    report = cli("indexer", "--report", "--library", library)
    assert report.returncode == 0
    assert report.stdout.decode("utf-8").splitlines() == [
        f"{photos}/broken\\nname.jpg\tnot an image, or a format Pillow cannot read"
    ]


def test_command_lines_never_show_a_traceback(odd_library, tmp_path):
    photos, library, _ = odd_library
    lib = ["--library", library]
    for args in (
        [b"caf\xe9"],
        ["cat", "--before", "0001-01-01"],
        ["cat", "--after", "9999-12-31"],
    ):
        result = cli("search", *args, *lib)
        nothing = result.stderr == b"altclip-search: no photo matches (a filter may leave none)\n"
        assert result.returncode == 0 and (not result.stderr or nothing), result.stderr
        assert nothing == (not result.stdout)
    frames = [photo(60, 40, i) for i in range(3)]
    frames[0].save(tmp_path / "moving.png", save_all=True, append_images=frames[1:])  # APNG
    assert cli("search", "--image", tmp_path / "moving.png", *lib).returncode == 0
    os.mkfifo(tmp_path / "fifo.jpg")
    err = one_line_error(cli("search", "--image", tmp_path / "fifo.jpg", *lib, timeout=60))
    assert "not a regular file" in err
    err = one_line_error(cli("search", "cat", "--after", "June", *lib))
    assert "2023-06-01" in err


def test_report_without_a_library_makes_none(tmp_path):
    err = one_line_error(cli("indexer", "--report", "--library", tmp_path / "none"))
    assert "no library" in err and not (tmp_path / "none").exists()


def test_a_model_that_is_not_there_makes_no_library(tmp_path):
    photos = make_photos(tmp_path / "photos")
    library = tmp_path / "lib"
    one_line_error(cli("indexer", photos, "--library", library, "--model", tmp_path / "nowhere"))
    assert not library.exists()


def test_rerun_without_model_uses_the_librarys(tiny, tmp_path):
    photos = make_photos(tmp_path / "photos")
    library = tmp_path / "lib"
    assert cli("indexer", photos, "--library", library, "--model", tiny).returncode == 0
    (photos / "2024" / "new.png").write_bytes((photos / "2024" / "square.png").read_bytes())
    again = cli("indexer", photos, "--library", library)  # offline: a download would fail
    assert again.returncode == 0, again.stderr
    assert b"1 added" in again.stdout


def search_state(library: Path) -> list[tuple[str, float]]:
    lib = Library.open(library)
    return [(h.path, round(h.score, 5)) for h in lib.search("beach", k=50, exact=True)]


def test_failed_rebuild_keeps_the_library(tiny, spm_path, tmp_path):
    """A damaged checkpoint (a copy cut short) changes nothing; a rebuild killed midway leaves
    the old library answering; the next rebuild finishes and switches."""
    photos = make_photos(tmp_path / "photos")
    library = tmp_path / "lib"
    assert cli("indexer", photos, "--library", library, "--model", tiny).returncode == 0
    before = search_state(library)
    running = Library.open(library)  # a page open all along
    running.search("beach")

    broken = tmp_path / "broken"
    checkpoints.build(broken, spm_path, seed=1, pytorch_bin=False)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    err = one_line_error(
        cli("indexer", photos, "--library", library, "--model", broken, "--rebuild")
    )
    assert "library is unchanged" in err
    assert search_state(library) == before

    other = tmp_path / "other"
    checkpoints.build(other, spm_path, seed=1)
    cmd = [sys.executable, "-m", "indexer", photos, "--library", library, "--model", other]
    proc = subprocess.Popen([*cmd, "--rebuild", "--batch-size", "1"], cwd=ROOT)
    while not rows(library, catalog.PendingPhoto):  # the rebuild has stored a photo or more
        assert proc.poll() is None, "the rebuild ended before it could be killed"
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert search_state(library) == before  # killed midway: the old library stands

    done = subprocess.run([*cmd, "--rebuild"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = search_state(library)
    assert sorted(p for p, _ in after) == sorted(p for p, _ in before) and after != before
    assert not rows(library, catalog.PendingPhoto)
    assert Catalog.open(library).model().name == str(other.resolve())
    found = [(h.path, round(h.score, 5)) for h in running.search("beach", k=50, exact=True)]
    assert found == after and running.model_name == str(other.resolve())  # follows the rebuild


def test_unreadable_folder_keeps_its_photos_and_failed_files_are_retried(tiny, tmp_path):
    photos = make_photos(tmp_path / "photos")
    library = tmp_path / "lib"
    locked, shy = photos / "2023", photos / "2024" / "square.png"
    assert cli("indexer", photos, "--library", library, "--model", tiny).returncode == 0
    before = {p: r.embedding for p, r in rows(library).items()}
    try:
        locked.chmod(0)
        shy.chmod(0)
        os.utime(shy, ns=(time.time_ns(), time.time_ns() + 10**9))  # changed, now unreadable
        run = cli("indexer", photos, "--library", library)
        assert run.returncode == 0, run.stderr
        assert b"0 removed" in run.stdout and b"3 kept from folders that could not be read" in (
            run.stdout
        )
        now = rows(library)
        assert set(now) == set(before)
        assert {p for p, r in now.items() if r.offline} == {
            p for p in before if p.startswith(f"{locked}/")
        }
        assert all(now[p].embedding == before[p] for p in now if now[p].offline)
        assert now[str(shy)].status == catalog.ERROR and "Permission" in now[str(shy)].error
    finally:
        locked.chmod(0o755)
        shy.chmod(0o644)
    run = cli("indexer", photos, "--library", library)  # same size and mtime: tried again
    assert run.returncode == 0 and b"1 updated" in run.stdout, run.stdout
    now = rows(library)
    assert not any(r.offline for r in now.values()) and now[str(shy)].status == catalog.OK


def test_leftover_temporary_files_are_removed(tiny, tmp_path):
    photos = make_photos(tmp_path / "photos")
    library = tmp_path / "lib"
    (library / "thumbs" / "ab").mkdir(parents=True)
    (library / "index").mkdir()
    leftovers = [library / "thumbs" / "ab" / "ab12.webp.tmp1234", library / "index/3.f32.tmp99"]
    for path in leftovers:
        path.write_bytes(b"half written")
    assert cli("indexer", photos, "--library", library, "--model", tiny).returncode == 0
    assert not any(path.exists() for path in leftovers)


def indexing_240(tiny, tmp_path) -> tuple[subprocess.Popen, Path, list]:
    """altclip-index on 240 photos in batches of 80, running, its first batch stored: (the
    process, with stdout and stderr piped; the library; the command without --batch-size)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(240):
        photo(480, 360, i).save(photos / f"{i:03d}.png")
    library = tmp_path / "lib"
    cmd = [sys.executable, "-m", "indexer", photos, "--library", library, "--model", tiny]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc = subprocess.Popen([*cmd, "--batch-size", "80"], cwd=ROOT, **pipes)
    while not rows(library):
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    return proc, library, cmd


def test_second_ctrl_c_exits_cleanly_and_the_rerun_finishes(tiny, tmp_path):
    proc, library, cmd = indexing_240(tiny, tmp_path)
    proc.send_signal(signal.SIGINT)  # the first batch is in: the second takes a second or two
    while "stopping after this batch" not in proc.stderr.readline().decode():
        pass
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 130, err
    assert "Traceback" not in err and err.strip().endswith("run the same command again to finish")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sum(r.status == catalog.OK for r in rows(library).values()) == 240


def test_called_from_python_a_second_ctrl_c_stops_the_run_not_the_process(
    tiny, tmp_path, capsys, monkeypatch
):
    """In a notebook, the command's second Ctrl-C raises into the run, not os._exit."""
    from indexer import Indexer

    def interrupted(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # stop after this batch
        os.kill(os.getpid(), signal.SIGINT)  # now
        time.sleep(5)

    monkeypatch.setattr(Indexer, "run", interrupted)
    args = [str(tmp_path), "--library", str(tmp_path / "lib"), "--model", str(tiny)]
    assert index_main(args) == 130
    assert capsys.readouterr().err.endswith("run the same command again to finish\n")


def test_one_ctrl_c_finishes_the_batch_and_exits_130(tiny, tmp_path):
    """Stopped by Ctrl-C after its batch, a run keeps that batch and says so, and exits 130
    as shells do for an interrupted command: a script can tell it from a finished run."""
    proc, library, _ = indexing_240(tiny, tmp_path)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted" in out.decode()
    assert 0 < len(rows(library)) < 240


def test_limits_must_be_numbers_above_zero(capsys):
    for flag in ("--batch-size", "--max-megapixels", "--max-file-mb"):
        for value in ("0", "-3", "nan", "many"):
            with pytest.raises(SystemExit) as e:
                index_main(["photos", flag, value])
            assert e.value.code == 2
            assert "is not a number above 0" in capsys.readouterr().err


def test_ids_given_again_by_an_old_catalog_are_removed_again(tmp_path):
    """Catalogs made before ids were never reused (schema 1) give a removed photo's id to the
    next one: removing that one too must work."""
    shutil.copytree(FIXTURES / "library-v1", tmp_path / "lib")
    lib = Catalog.open(tmp_path / "lib")
    newest = max(lib.photos(list(range(1, 10))).values(), key=lambda p: p.id)
    lib.finish_run(gone=[newest.path], offline={})
    lib.store([catalog.Record("/photos-v1/new.jpg", 1, 1, "0" * 64, embedding=newest.embedding)])
    assert newest.id in lib.photos([newest.id])  # the same id, given again
    lib.finish_run(gone=["/photos-v1/new.jpg"], offline={})
    assert newest.id in lib.changes_since(0, len(newest.vector)).dead


def test_a_library_made_by_schema_1_migrates_without_reembedding(tmp_path):
    """tests/fixtures/library-v1 was written by the indexer as it stood at schema 1 (3 files,
    one broken), with the tiny checkpoint."""
    shutil.copytree(FIXTURES / "library-v1", tmp_path / "lib")
    with sqlite3.connect(tmp_path / "lib" / "catalog.sqlite") as db:
        vectors = dict(db.execute("SELECT path, embedding FROM photos"))
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    engine = catalog.connect(catalog.catalog_url(tmp_path / "lib"))
    with Session(engine) as s:
        version = s.execute(text("SELECT value FROM meta WHERE key='schema_version'")).scalar()
        assert version == str(schema.SCHEMA_VERSION)
        migrated = {p.path: p for p in s.scalars(select(Photo))}
    assert {p: r.embedding for p, r in migrated.items()} == vectors
    assert not any(r.offline for r in migrated.values())
    ok = [r for r in migrated.values() if r.status == catalog.OK]
    assert len(ok) == 2
    index = Library.open(tmp_path / "lib").refresh()  # searches the stored vectors as they are
    for r in ok:
        assert index.search(r.vector[None], 1)[1][0][0] == r.id
