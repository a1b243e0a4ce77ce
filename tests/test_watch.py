"""The watcher (`altclip-index PHOTOS --watch`, indexer/watch.py) on real file system events in
temporary folders, with the tiny checkpoint: photos copied in, written half, renamed, moved,
deleted; the polling fallback past a watch limit; kill -9 while events arrive, then the rerun;
one writer; and a running page that shows a photo added while it runs."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from indexer import Indexer
from indexer.scan import Entry
from indexer.watch import Watcher, read_status
from search import catalog
from tests.test_indexer import rows, state, stored
from tests.test_parity import photo

ROOT = Path(__file__).resolve().parents[1]
N = 30  # photos copied in while a watcher indexes, then killed


def until(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def ok(library: Path) -> set[str]:
    """The names of the photos the library holds with a vector."""
    return {os.path.basename(p) for p, r in rows(library).items() if r.status == catalog.OK}


def jpeg(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    photo(160, 120, seed).save(path, quality=90)
    return path


@contextmanager
def watching(library: Path, tiny: Path, roots: list[Path], **kw):
    """A Watcher on `roots` in a thread, its first pass done; stopped at the end. Yields it and
    the lines it said."""
    said: list[str] = []
    indexer = Indexer(library=library, model=str(tiny), max_megapixels=4, batch_size=4, workers=2)
    watcher = Watcher(indexer, roots, settle=kw.pop("settle", 0.6), say=said.append, **kw)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    try:
        until(lambda: watcher.said is not None and watcher.said.state == "current", what="start")
        yield watcher, said
    finally:
        watcher.stop()
        thread.join(30)
        assert not thread.is_alive()
    assert read_status(library) is None  # its status goes with it


def test_copied_in_found_half_written_waits_rename_move_delete(tiny, tmp_path):
    photos, library = tmp_path / "photos", tmp_path / "lib"
    jpeg(photos / "a" / "first.jpg", 1)
    (photos / "loop").symlink_to(photos)  # a symlink loop: said, never followed forever
    with watching(library, tiny, [photos]) as (watcher, said):
        until(lambda: ok(library) == {"first.jpg"}, what="a photo written just before, settled")
        time.sleep(0.5)
        rounds = watcher.rounds
        time.sleep(1.5)  # its own thumbnails and catalog wake nothing
        assert watcher.rounds == rounds

        shutil.copy(jpeg(tmp_path / "new.jpg", 2), photos / "a" / "copied.jpg")
        until(lambda: "copied.jpg" in ok(library), what="a photo copied in")

        data = (tmp_path / "new.jpg").read_bytes()
        half = photos / "a" / "half.jpg"
        with open(half, "wb") as f:  # written in pieces, with pauses shorter than settle
            for i in range(0, len(data), len(data) // 5 + 1):
                f.write(data[i : i + len(data) // 5 + 1])
                f.flush()
                time.sleep(0.25)
                assert str(half) not in rows(library), "read before it was complete"
        until(lambda: "half.jpg" in ok(library), what="the whole file, once complete")
        assert rows(library)[str(half)].size == len(data)

        until(lambda: watcher.said.state == "current", what="its round said")
        n = len(said)
        os.rename(half, photos / "a" / "renamed.jpg")
        until(lambda: len(said) > n, what="a rename")  # its vector kept, not embedded again
        assert "0 added" in said[-1] and "1 moved" in said[-1] and "0 removed" in said[-1]
        assert ok(library) == {"first.jpg", "copied.jpg", "renamed.jpg"}

        before = {p: r.embedding for p, r in rows(library).items()}
        until(lambda: watcher.said.state == "current", what="its round said")
        n = len(said)
        os.rename(photos / "a", photos / "b")
        until(lambda: len(said) > n, what="a folder renamed")
        assert "0 added" in said[-1] and "3 moved" in said[-1] and "0 removed" in said[-1]
        after = rows(library)
        assert {p.replace("/a/", "/b/"): e for p, e in before.items()} == {
            p: r.embedding for p, r in after.items()
        }

        (photos / "b" / "copied.jpg").unlink()
        until(lambda: "copied.jpg" not in ok(library), what="a delete")
        shutil.move(photos / "b", tmp_path / "elsewhere")  # out of the watched folder: gone
        until(lambda: not rows(library), what="a folder moved out")


def test_a_file_not_settled_is_looked_at_again_when_it_may_be(tiny, tmp_path):
    """When its time is SETTLE old, not SETTLE after the look that found it too new (which
    comes a round after the last write); a time that cannot be trusted (ahead of this clock)
    waits SETTLE from when it was first seen so."""
    watcher = Watcher(Indexer(library=tmp_path / "lib", model=str(tiny)), [tmp_path], settle=2)
    recent, ahead = jpeg(tmp_path / "recent.jpg", 1), jpeg(tmp_path / "ahead.jpg", 2)
    now = time.time()
    os.utime(recent, (now - 1.5, now - 1.5))
    os.utime(ahead, (now + 60, now + 60))
    for path, wait in ((recent, 0.5), (ahead, 2.0)):
        st = path.stat()
        assert not watcher._settled(Entry(str(path), st.st_size, st.st_mtime_ns))
        assert watcher.later[str(path)] - time.monotonic() == pytest.approx(wait, abs=0.2)
    os.utime(recent, (now - 2.5, now - 2.5))
    st = recent.stat()
    assert watcher._settled(Entry(str(recent), st.st_size, st.st_mtime_ns))


def test_idle_it_lets_the_image_tower_go_and_loads_it_for_the_next_photo(
    tiny, tmp_path, monkeypatch
):
    made = []
    embedder = Indexer.embedder
    monkeypatch.setattr(Indexer, "embedder", lambda *a: made.append(embedder(*a)) or made[-1])
    photos, library = tmp_path / "photos", tmp_path / "lib"
    jpeg(photos / "first.jpg", 1)
    with watching(library, tiny, [photos]) as (watcher, said):
        (held,) = made
        assert held.model is not None  # the first pass embedded a photo
        watcher.release = 0.5
        shutil.copy(jpeg(tmp_path / "new.jpg", 2), photos / "second.jpg")
        until(lambda: "second.jpg" in ok(library), what="a photo copied in")
        until(lambda: held.model is None, what="the image tower let go, once idle")
        watcher.release = 3600.0
        shutil.copy(jpeg(tmp_path / "other.jpg", 3), photos / "third.jpg")
        until(lambda: "third.jpg" in ok(library), what="a photo after it")
        assert held.model is not None
    Indexer(library=tmp_path / "clean", model=str(tiny), max_megapixels=4).run([photos])
    assert state(library) == state(tmp_path / "clean")  # the model loaded again is the same


def test_a_watched_folder_emptied_keeps_its_photos_until_it_is_back(tiny, tmp_path):
    """An unmounted drive leaves its mount point empty: its photos are not removed."""
    photos, library = tmp_path / "photos", tmp_path / "lib"
    jpeg(photos / "a.jpg", 1)
    with watching(library, tiny, [photos]) as (watcher, said):
        until(lambda: ok(library) == {"a.jpg"}, what="settled")
        (photos / "a.jpg").unlink()
        until(lambda: any("is gone or empty" in line for line in said), what="said")
        forget = f"altclip-index --forget {photos} --library {library}"
        assert [line for line in said if "is gone or empty" in line][0].endswith(f"{forget})")
        assert ok(library) == {"a.jpg"}
        jpeg(photos / "b.jpg", 2)
        until(lambda: ok(library) == {"b.jpg"}, what="back, and walked whole")


def test_a_full_disk_waits_for_space_and_loses_nothing(tiny, tmp_path, monkeypatch):
    """A disk full under the library stops a round, not the watcher: said once, the page told,
    no photo marked failed; tried again once the disk has more room, the photos that came
    meanwhile are indexed."""
    photos, library = tmp_path / "photos", tmp_path / "lib"
    jpeg(photos / "a.jpg", 1)
    save, full, room = Image.Image.save, threading.Event(), [100]

    def saving(image, fp, *args, **kwargs):
        if full.is_set() and str(library) in str(fp):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(image, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", saving)
    monkeypatch.setattr("indexer.watch._room", lambda folder: room[0])
    with watching(library, tiny, [photos], poll=0.5, full_every=10**6) as (watcher, said):
        until(lambda: ok(library) == {"a.jpg"}, what="settled")
        full.set()
        jpeg(photos / "b.jpg", 2)
        until(lambda: getattr(read_status(library), "state", None) == "full", what="full")
        from tests.test_ui import app

        at = app(monkeypatch, library, locale="zh-CN")
        assert "没有空间写入照片库" in " ".join(t.value for t in at.sidebar.text)
        rounds = watcher.rounds
        jpeg(photos / "c.jpg", 3)
        time.sleep(2)
        assert watcher.rounds == rounds, "no room more: no try"
        room[0] += 1
        until(lambda: watcher.rounds > rounds, what="more room: a try")
        lines = [line for line in said if "no space left" in line]
        assert lines == [
            f"altclip-index: no space left to write into {library}: free some there (the "
            "watcher looks every 0.5 s and goes on once there is; nothing is lost)"
        ]
        assert ok(library) == {"a.jpg"}
        assert not [r for r in rows(library).values() if r.status == catalog.ERROR]
        full.clear()
        room[0] += 1
        until(lambda: ok(library) == {"a.jpg", "b.jpg", "c.jpg"}, what="space again")
        until(lambda: watcher.said is not None and watcher.said.state == "current", what="said")
        assert any("space again" in line for line in said)


class Refusing:
    """An observer as watchdog's is where the kernel's inotify watches have run out."""

    def schedule(self, *args, **kw):
        pass

    def start(self):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    def stop(self):
        pass


@pytest.mark.parametrize("limit", ["max_watches", "kernel"])
def test_past_the_watch_limit_it_says_so_once_and_polls(tiny, tmp_path, limit):
    """Polling lists only the folders whose time changed: nothing changed, nothing planned;
    a file rewritten in place (its folder's time unchanged) is found by the full pass."""
    photos, library = tmp_path / "photos", tmp_path / "lib"
    for i, folder in enumerate(["a", "b", "a/c"]):
        jpeg(photos / folder / f"p{i}.jpg", i + 1)
    kw = {"max_watches": 1, "full_every": 10**6} if limit == "max_watches" else {}
    kw = kw or {"observer": Refusing, "full_every": 4}
    with watching(library, tiny, [photos], poll=0.3, **kw) as (watcher, said):
        lines = [line for line in said if "polling" in line]
        assert len(lines) == 1 and "/proc/sys/fs/inotify/max_user_watches" in lines[0], said
        assert watcher.mode == "polling"
        if limit == "max_watches":
            time.sleep(2.5)  # a folder changed within 2 s of its listing is listed again
            rounds = watcher.rounds
            time.sleep(1.2)
            assert watcher.rounds == rounds, "polls that find nothing changed plan nothing"
        else:
            until(lambda: len(ok(library)) == 3, what="settled")
            before = rows(library)[str(photos / "a" / "p0.jpg")].sha256
            with open(photos / "a" / "p0.jpg", "r+b") as f:  # the same file, other bytes
                f.truncate(0)
                f.write(jpeg(tmp_path / "other.jpg", 7).read_bytes())
            after = lambda: rows(library)[str(photos / "a" / "p0.jpg")].sha256  # noqa: E731
            until(lambda: after() != before, what="a file rewritten in place, by a full pass")
        jpeg(photos / "a" / "c" / "new.jpg", 9)
        until(lambda: "new.jpg" in ok(library), what="a photo found by polling")
        shutil.rmtree(photos / "b")
        until(lambda: "p1.jpg" not in ok(library), what="a folder removed, found by polling")
        assert len([line for line in said if "polling" in line]) == 1


def test_killed_while_events_arrive_the_rerun_finishes_one_writer_and_ctrl_c(tiny, tmp_path):
    photos, library, clean = tmp_path / "photos", tmp_path / "lib", tmp_path / "clean"
    jpeg(photos / "first.jpg", 1)
    cmd = [sys.executable, "-m", "indexer", str(photos), "--library", str(library)]
    cmd += ["--model", str(tiny), "--max-megapixels", "4", "--batch-size", "1", "--watch"]

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        until(lambda: (s := read_status(library)) is not None and s.state == "current", 120)
        return proc

    watcher = start()
    busy = subprocess.run([*cmd[:-1]], cwd=ROOT, capture_output=True, text=True)
    assert busy.returncode == 1 and busy.stderr.count("\n") == 1, busy.stderr
    assert f"process {watcher.pid}" in busy.stderr and "--watch" in busy.stderr
    for i in range(N):  # arriving while it indexes
        shutil.copy(jpeg(tmp_path / "src" / f"{i}.jpg", 10 + i), photos / f"new{i}.jpg")
        time.sleep(0.05)
    until(lambda: stored(library) > 1, 120, "a first new photo stored")
    watcher.send_signal(signal.SIGKILL)
    watcher.wait()
    assert stored(library) < N + 1, "the kill came too late to test anything"

    watcher = start()  # its first pass finishes the job
    until(lambda: stored(library) == N + 1, 120, "every photo")
    until(lambda: read_status(library).state == "current")
    started = time.monotonic()
    watcher.send_signal(signal.SIGINT)  # idle: ends at once
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0 and time.monotonic() - started < 10
    assert b"Traceback" not in err and read_status(library) is None
    Indexer(library=clean, model=str(tiny), max_megapixels=4).run([photos])
    assert state(library) == state(clean)


def test_a_running_page_shows_a_photo_added_while_it_runs(tiny, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_ui import APP

    photos, library = tmp_path / "photos", tmp_path / "lib"
    jpeg(photos / "first.jpg", 1)
    with watching(library, tiny, [photos]):
        monkeypatch.setenv("ALTCLIP_LIBRARY", str(library))
        monkeypatch.delenv("ALTCLIP_PASSWORD", raising=False)
        at = AppTest.from_file(APP, default_timeout=120)
        at.context = {"locale": "en-US"}
        at.run()
        at.text_input(key="query").input("a photo").run()
        assert not at.exception
        assert "Up to date: new photos are indexed as they arrive" in [
            t.value for t in at.sidebar.text
        ]
        names = lambda: [t.value for t in at.main.text if " · " in t.value]  # noqa: E731
        assert any("first.jpg" in n for n in names()) and not any("later.jpg" in n for n in names())
        jpeg(photos / "later.jpg", 2)
        until(lambda: "later.jpg" in ok(library), what="indexed")
        at.run()  # the same question asked again, in the same page: no restart
        assert any("later.jpg" in n for n in names()) and at.sidebar.metric[0].value == "2"


def test_the_page_command_says_a_bad_port_or_folder_in_one_line(capsys):
    from ui.launch import main

    with pytest.raises(SystemExit) as exit:
        main(["--port", "99999"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "'99999' is not a port" in err and "Traceback" not in err
    assert main(["--watch", "/nowhere/photos"]) == 2
    assert capsys.readouterr().err == "altclip-ui: --watch /nowhere/photos is not a folder\n"
    with socket.socket() as taken:  # a port another program listens on; an address not here
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        for args in (["--port", str(taken.getsockname()[1])], ["--address", "192.0.2.1"]):
            assert main([*args, "--password", "x"]) == 2
            err = capsys.readouterr().err
            assert err.startswith("altclip-ui: cannot serve on ") and err.count("\n") == 1, err
