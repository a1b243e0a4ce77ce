"""The Streamlit app's flows through Streamlit's AppTest, on real tiny libraries: the searches a
person makes, and what a hostile file name, catalog row, upload or visitor must not get."""

from __future__ import annotations

import builtins
import io
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from search.catalog import Photo
from tests.photos import GOOD, _png_header
from tests.test_parity import photo
from ui import launch

APP = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")
# File names that Markdown would turn into a fetch, a link, formatting, LaTeX, HTML, a logo or a
# second line ("/" is the one character a name cannot hold).
HOSTILE = [
    "![b](https:evil.example).jpg",
    "[link](https:evil.example).jpg",
    "**bold**.jpg",
    ":red[x].jpg",
    "$x$.jpg",
    "<img src=x onerror=alert(1)>.jpg",
    "www.evil.example.jpg",
    ":streamlit: -> done.jpg",
    "line\nbreak.jpg",
]
UNREADABLE = "That file could not be read as a photo. · 无法把这个文件读作照片。"


def app(monkeypatch, folder, password: str | None = None) -> AppTest:
    monkeypatch.setenv("ALTCLIP_LIBRARY", str(folder))
    if password is None:
        monkeypatch.delenv("ALTCLIP_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("ALTCLIP_PASSWORD", password)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def texts(at: AppTest) -> list[str]:
    """The plain-text lines of the main area, top to bottom."""
    return [t.value for t in at.main.text]


def scores(at: AppTest) -> list[float]:
    return [float(t.split(" · ")[0]) for t in texts(at) if " · " in t]


def markdown(at: AppTest) -> str:
    """Everything the page rendered as Markdown."""
    elements = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.title]
    return "\n".join(e.value for e in elements)


def hostile_library(root: Path, model: Path) -> Path:
    """A library whose photos have the HOSTILE names; returns its folder."""
    from indexer import Indexer

    photos = root / "photos"
    photos.mkdir(parents=True)
    for seed, name in enumerate(HOSTILE):
        photo(160, 120, 100 + seed).save(photos / name, "JPEG")
    Indexer(library=root / "lib", model=str(model)).run([photos])
    return root / "lib"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, tiny):
    return hostile_library(tmp_path_factory.mktemp("hostile"), tiny)


def test_no_library_says_what_to_run(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path / "empty")
    assert "altclip-index" in texts(at)[0] and "reload this page" in at.caption[0].value


def test_damaged_catalog_says_what_to_do(monkeypatch, tmp_path):
    (tmp_path / "catalog.sqlite").write_bytes(b"not a database")
    at = app(monkeypatch, tmp_path)
    assert "move a damaged catalog.sqlite aside" in texts(at)[0]


def test_chinese_query_shows_ranked_scores(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library)
    assert at.sidebar.metric[0].value == str(GOOD)
    at.text_input[0].input("海边的日落").run()
    assert not at.exception
    found = scores(at)
    assert len(found) == GOOD and found == sorted(found, reverse=True)
    assert len(at.image) == GOOD
    assert any(t.startswith(f"{GOOD} photos best matching “海边的日落”") for t in texts(at))


def test_open_a_result_and_filters(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library)
    at.text_input[0].input("sunset at the beach").run()
    at.button[0].click().run()
    assert not at.exception
    assert any("score" in t and "×" in t for t in texts(at))
    at.sidebar.text_input[1].input("2023").run()  # folder filter
    assert len(scores(at)) == 3
    at.sidebar.multiselect[0].select("PNG").run()  # and file type: 2023/ holds only JPEGs
    assert not at.exception and not scores(at) and "No photo matches" in at.info[0].value
    at.sidebar.text_input[1].input("").run()
    assert len(scores(at)) == 4  # square, grey16, palette, alpha


def test_bad_query_is_one_line(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library)
    at.text_input[0].input("x" * 5000).run()
    assert not at.exception and not scores(at)
    assert [t for t in texts(at) if "characters long" in t] == [
        "⚠️ the query is 5000 characters long; keep it under 2000"
    ]


def test_hostile_names_are_shown_as_text(monkeypatch, hostile):
    at = app(monkeypatch, hostile)
    at.text_input[0].input("**bold** $x$ :red[x]").run()
    at.button[0].click().run()  # and the detail line, with the full path
    assert not at.exception
    names = {t.split(" · ", 1)[1] for t in texts(at) if " · " in t}
    assert names == {n.replace("\n", "\\n") for n in HOSTILE}  # each name as it is, on one line
    assert any(t.startswith(str(hostile.parent / "photos")) and "×" in t for t in texts(at))
    assert any("“**bold** $x$ :red[x]”" in t for t in texts(at))  # the query echo, as typed
    shown = markdown(at)
    assert not any(part in shown for part in ["evil", "**", "$x$", ":red[", "<img", ":streamlit:"])


def test_crafted_catalog_rows_open_no_other_file(monkeypatch, tmp_path, photo_library):
    """A catalog row may be forged (sha256 '../secret', a path that is now a FIFO or a folder): the
    page shows no thumbnail for it, never opens it, and does not hang or crash."""
    lib = shutil.copytree(photo_library, tmp_path / "lib")
    photo(64, 64, 99).save(tmp_path / "secret.webp")  # where thumbs/../../secret.webp leads
    os.mkfifo(tmp_path / "fifo.jpg")  # opening it for reading would block the page for good
    (tmp_path / "folder.jpg").mkdir()
    forbidden = {
        "/etc/passwd",
        *(str(tmp_path / n) for n in ["secret.webp", "fifo.jpg", "folder.jpg"]),
    }
    engine = create_engine(f"sqlite:///{lib / 'catalog.sqlite'}")
    with Session(engine) as s, s.begin():
        ids = s.scalars(select(Photo.id).where(Photo.status == "ok").order_by(Photo.id)).all()
        forged = dict(zip(ids, ["../secret", "../../../../etc/passwd"], strict=False))
        for i, sha in forged.items():
            s.execute(update(Photo).where(Photo.id == i).values(sha256=sha))
        moved = dict(zip(ids[2:], [tmp_path / "fifo.jpg", tmp_path / "folder.jpg"], strict=False))
        for i, path in moved.items():
            s.execute(update(Photo).where(Photo.id == i).values(path=str(path)))
    engine.dispose()

    opened = []
    real_open = builtins.open

    def recording_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):
            opened.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    at = app(monkeypatch, lib)
    at.text_input[0].input("sunset").run()
    assert not at.exception and len(scores(at)) == GOOD
    assert len(at.image) == GOOD - len(forged)  # the thumbnails of the rows left as they were
    for i in moved:
        at.button(key=f"open-{i}").click().run()
        assert not at.exception and "no longer on disk" in at.warning[0].value
        assert len(at.image) == GOOD - len(forged)  # no original shown above the grid
    assert not forbidden & set(opened)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, *chunks: bytes, colour: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + b"".join(chunks) + pixels


def apng_with_a_giant_frame() -> bytes:
    buf = io.BytesIO()
    photo(64, 48, 1).save(buf, "PNG", save_all=True, append_images=[photo(64, 48, 2)])
    data = buf.getvalue()
    at = data.index(b"fcTL")
    body = data[at + 4 : at + 30]
    giant = body[:4] + struct.pack(">II", 100_000, 100_000) + body[12:]
    return data[: at - 4] + chunk(b"fcTL", giant) + data[at + 34 :]


UPLOADS = {
    "bomb.png": lambda: _png_header(60_000, 60_000),  # 3.6 gigapixels claimed in 80 bytes
    "malformed.png": lambda: png(64, 64)[:30] + b"\xff" * 20,
    "animated.png": apng_with_a_giant_frame,
    "broken.gif": lambda: b"GIF89a\x40\x00\x30\x00\xf7\x00\x00" + b"\x01" * 40,
    "palette.png": lambda: png(8, 8, chunk(b"PLTE", bytes(range(256)) * 4), colour=3),
    "notes.png": lambda: b"a text file, renamed\n",
    "empty.png": lambda: png(0, 0),
}


@pytest.mark.parametrize("name", UPLOADS)
def test_unreadable_upload_is_one_line(monkeypatch, photo_library, name):
    at = app(monkeypatch, photo_library)
    at.file_uploader[0].upload(name, UPLOADS[name](), "image/png").run()
    assert not at.exception and not scores(at)
    assert [w.value for w in at.warning] == [UNREADABLE]
    assert not texts(at)  # nothing else said


def test_upload_finds_photos_like_it(monkeypatch, photo_library):
    buf = io.BytesIO()
    photo(640, 480, 1).save(buf, "JPEG", quality=90)  # beach.jpg's picture
    at = app(monkeypatch, photo_library)
    at.file_uploader[0].upload("beach.jpg", buf.getvalue(), "image/jpeg").run()
    assert not at.exception and not at.warning
    summary, best = texts(at)[:2]
    assert summary.startswith(f"{GOOD} photos best matching the uploaded image")
    assert best.endswith(" · beach.jpg")


def test_password_first(monkeypatch, photo_library):
    at = app(monkeypatch, photo_library, password="correct horse")
    assert [t.label for t in at.text_input] == ["Password · 密码"]
    assert not (at.image or at.text or at.metric or at.sidebar.children or at.file_uploader)
    at.text_input[0].input("wrong").run()
    assert [e.value for e in at.error] == ["That password is not right. · 密码不对。"]
    assert not (at.image or at.text or at.metric or at.sidebar.children or at.file_uploader)
    at.text_input[0].input("correct horse").run()
    assert not at.error and at.sidebar.metric[0].value == str(GOOD)
    assert "Password · 密码" not in [t.label for t in at.text_input]  # the box has gone
    at.text_input[0].input("海边的日落").run()  # the search box, now the only text input
    assert not at.exception and len(scores(at)) == GOOD


def launch_env(monkeypatch) -> None:
    """launch.main sets these for the app it starts: they must not outlive the test (delenv of
    a variable that is absent records nothing to undo, hence the setenv first)."""
    for name in ("ALTCLIP_PASSWORD", "ALTCLIP_LIBRARY", "ALTCLIP_CATALOG"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "", "192.168.1.20", "photos.example"])
def test_network_address_needs_a_password(monkeypatch, capsys, address):
    launch_env(monkeypatch)
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("started without a password"))
    assert launch.main(["--address", address]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "ALTCLIP_PASSWORD=" in err


@pytest.mark.parametrize(
    "address, password",
    [("localhost", None), ("127.0.0.2", None), ("::1", None), ("0.0.0.0", "s3")],
)
def test_launch(monkeypatch, tmp_path, address, password):
    """Loopback needs no password; a password reaches the app in its environment, not in `ps`."""
    launch_env(monkeypatch)
    started = []
    monkeypatch.setattr(os, "execv", lambda exe, cmd: started.append(cmd))
    argv = ["--address", address, "--library", str(tmp_path)]
    launch.main(argv + (["--password", password] if password else []))
    (cmd,) = started
    assert os.environ.get("ALTCLIP_PASSWORD") == password and password not in cmd
    assert cmd[cmd.index("--client.showErrorDetails") + 1] == "none"
    assert cmd[cmd.index("--server.enableStaticServing") + 1] == "false"
