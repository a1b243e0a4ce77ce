"""What the page must not give away or get wrong when it is trusted with a library: no photo is
served to a client that has not signed in; a catalog that fails while the page is open is one
line in the page's language; an absurdly long query is refused before anything reads it; a
name's invisible characters are shown. The first test drives the real `altclip-ui` over its
websocket as a browser does; the others use Streamlit's AppTest as tests/test_ui.py does."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import socket
import time
import unicodedata
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search import MAX_QUERY_CHARS, Library
from tests.conftest import serve
from tests.photos import GOOD
from tests.test_parity import photo
from tests.test_ui import LOCALES, WORDS, app, open_photo, search, texts, tiles, viewed, viewer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse"


class Client:
    """One browser tab's conversation with the page, without the browser: Streamlit's own
    websocket, which carries the widgets' values in (BackMsg) and what the page draws out
    (ForwardMsg, protobuf), the one channel that the password guards."""

    def __init__(self, ws, query_string: str):
        self.ws, self.query_string = ws, query_string

    def run(self, *widgets):
        """Run the page with these widget values (WidgetState protos); what it sent, to the
        end of the run."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        back = BackMsg()
        back.rerun_script.query_string = self.query_string
        back.rerun_script.context_info.locale = "en-US"
        back.rerun_script.widget_states.widgets.extend(widgets)
        self.ws.send(back.SerializeToString())
        sent = []
        while True:
            msg = ForwardMsg.FromString(self.ws.recv(timeout=120))
            sent.append(msg)
            if (
                msg.WhichOneof("type") == "script_finished"
                and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
            ):
                return sent


@contextmanager
def tab(url: str, query_string: str):
    """A Client of the page at `url`, opened at `?query_string`."""
    from websockets.sync.client import connect

    stream = url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(stream, subprotocols=["streamlit"], max_size=None, open_timeout=30) as ws:
        yield Client(ws, query_string)


def elements(sent) -> list:
    return [
        m.delta.new_element
        for m in sent
        if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"
    ]


def widget(sent, kind: str, label: str) -> str:
    """The id of the widget of `kind` ("text_input", "button") labelled `label`."""
    (found,) = [getattr(e, kind).id for e in elements(sent) if getattr(e, kind).label == label]
    return found


def pictures(sent) -> list[str]:
    """The source of every picture the page showed (st.image), in order."""
    return [
        img.url for e in elements(sent) if e.WhichOneof("type") == "imgs" for img in e.imgs.imgs
    ]


def without_pictures(sent) -> bytes:
    """Everything the page sent, its pictures' `data:` sources blanked (base64 may spell
    anything), as bytes to search for URLs."""
    out = []
    for m in sent:
        m = type(m).FromString(m.SerializeToString())
        for e in elements([m]):
            for img in e.imgs.imgs:
                if img.url.startswith("data:"):
                    img.url = ""
        out.append(m.SerializeToString())
    return b"".join(out)


def inlined(url: str) -> tuple[str, bytes]:
    """(media type, bytes) of a `data:` URI."""
    assert url.startswith("data:") and ";base64," in url, url[:80]
    kind, data = url[len("data:") :].split(";base64,", 1)
    return kind, base64.b64decode(data, validate=True)


def media_url(data: bytes, width: str) -> str:
    """The /media URL at which Streamlit serves `data` once st.image is given it as a file: its
    own steps (image_utils.image_to_url), for the grid's "stretch" and the viewer's "content"."""
    from streamlit.elements.lib import image_utils
    from streamlit.elements.lib.layout_utils import create_layout_config
    from streamlit.runtime.media_file_storage import MediaFileKind
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    kind = image_utils._validate_image_format_string(data, "auto")
    layout = create_layout_config(width=width, allow_content_width=True)
    served = image_utils._ensure_image_size_and_format(data, layout, kind)
    storage = MemoryMediaFileStorage("/media")
    mimetype = image_utils._get_image_format_mimetype(kind)
    return storage.get_url(storage.load_and_get_id(served, mimetype, MediaFileKind.MEDIA))


def fetch(url: str) -> tuple[int, bytes]:
    """(status, body) of a GET with no cookie, as any client on the network sends it."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_no_photo_is_served_without_the_password(photo_library, tmp_path):
    """Signed in over the page's websocket, the client sees every thumbnail and the viewer's
    preview, each byte for byte the library's file, inside the page's own messages (data:
    URIs); nothing the page sends names a /media URL, and the /media URLs that Streamlit would
    serve these pictures at answer a client without the session nothing. Before the password,
    no picture at all."""
    thumbs = {p.read_bytes() for p in (photo_library / "thumbs").rglob("*.webp")}
    previews = {p.read_bytes() for p in (photo_library / "previews").rglob("*.jpg")}
    assert len(thumbs) == len(previews) == GOOD
    with serve(photo_library, tmp_path / "ui.log", PASSWORD) as url, tab(url, "q=sunset") as page:
        gate = page.run()
        password = widget(gate, "text_input", WORDS["en"]["password"])
        signed_in = page.run(state(password, PASSWORD))
        grid = pictures(signed_in)
        query = widget(signed_in, "text_input", WORDS["en"]["search_label"])
        first = widget(signed_in, "button", WORDS["en"]["open_photo"].format(n=1))
        opened = page.run(state(query, "sunset"), state(first, True))
        shown = pictures(opened)
        sent = [*gate, *signed_in, *opened]
        candidates = [media_url(t, "stretch") for t in thumbs]
        candidates += [media_url(p, "content") for p in previews]
        fetched = [fetch(url + c) for c in candidates]  # while the signed-in session is open

    assert not pictures(gate)  # the password first, and nothing else
    assert [status for status, _ in fetched] == [404] * len(candidates)
    assert not [body for _, body in fetched if picture(body)]
    assert b"/media/" not in without_pictures(sent)
    assert len(grid) == GOOD
    assert {inlined(u) for u in grid} == {("image/webp", t) for t in thumbs}
    assert len(shown) == GOOD + 1  # the grid stays under the viewer
    (preview,) = [inlined(u) for u in shown if inlined(u)[0] == "image/jpeg"]
    assert preview[1] in previews


def test_on_loopback_the_page_answers_only_to_this_machines_names(photo_library, tmp_path):
    """Without a password, on loopback: a page elsewhere whose name resolves to 127.0.0.1 (DNS
    rebinding) cannot open the page's websocket, which carries the photos."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with serve(photo_library, tmp_path / "ui.log") as url:
        port = int(url.rsplit(":", 1)[1])
        with tab(url, "q=sunset") as page:  # localhost: the page
            assert pictures(page.run())
        for name in ("evil.example", "attacker.localhost.example"):
            sock = socket.create_connection(("127.0.0.1", port))
            with pytest.raises(InvalidStatus, match="403"):
                connect(f"ws://{name}:{port}/_stcore/stream", sock=sock, open_timeout=30)


def picture(data: bytes) -> bool:
    """Whether `data` is a picture (Streamlit serves a thumbnail re-encoded as JPEG)."""
    try:
        with Image.open(io.BytesIO(data)) as shown:
            shown.load()
    except (OSError, ValueError):
        return False
    return True


def state(widget_id: str, value):
    """A widget's value as the browser sends it: text, or a button's click (True)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    if isinstance(value, bool):
        return WidgetState(id=widget_id, trigger_value=value)
    return WidgetState(id=widget_id, string_value=value)


def test_every_picture_the_page_shows_is_inline(monkeypatch, photo_library):
    """The thumbnails, the viewer's preview and an upload's preview: each a data: URI of the
    picture itself (the library's own file, byte for byte), none a media URL."""
    at = open_photo(search(app(monkeypatch, photo_library), "sunset"), 0)
    sources = [inlined(u) for image in at.image for u in image.value]
    thumbs = {p.read_bytes() for p in (photo_library / "thumbs").rglob("*.webp")}
    assert sorted(t for kind, t in sources if kind == "image/webp") == sorted(thumbs)
    (preview,) = [data for kind, data in sources if kind == "image/jpeg"]
    assert preview == Library.open(photo_library).preview(viewed(at)).read_bytes()

    upload = io.BytesIO()
    photo(640, 480, 77).save(upload, "JPEG")
    at.file_uploader[0].upload("mine.jpg", upload.getvalue(), "image/jpeg").run()
    assert not at.exception
    sources = [inlined(u) for image in at.image for u in image.value]
    assert sorted(t for kind, t in sources if kind == "image/webp") == sorted(thumbs)
    (mine,) = [data for kind, data in sources if kind == "image/jpeg"]
    with Image.open(io.BytesIO(mine)) as shown:
        assert shown.size == (480, 360)  # Library.query_image's 480 px, as before


def test_why_this_photo_is_inline(monkeypatch, photo_library):
    """The heat map laid over the viewer's photo is sent inside the page too, as a JPEG of the
    picture the page made."""
    at = open_photo(search(app(monkeypatch, photo_library), "sunset"), 0)
    at.button(key="why").click().run()
    assert not at.exception
    (mapped,) = [
        inlined(u)[1] for image in at.image for u in image.value if u.startswith("data:image/jpeg")
    ]
    made = at.session_state.why_shown[1].convert("RGB")
    with Image.open(io.BytesIO(mapped)) as shown:
        assert shown.size == made.size
        difference = np.abs(np.asarray(shown, np.int16) - np.asarray(made, np.int16))
    assert difference.mean() < 3  # JPEG's loss, not another picture


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_catalog_damaged_while_the_page_is_open_is_one_line(
    monkeypatch, tmp_path, photo_library, lang
):
    """The catalog overwritten while the page is open: the next search shows one line in the
    page's language, what happened and what to do, with the library's message as text, and no
    traceback; once the catalog is back, a reload finds the library again."""
    library = shutil.copytree(photo_library, tmp_path / "lib")
    at = search(app(monkeypatch, library, locale=LOCALES[lang]), "sunset")
    assert len(tiles(at)) == GOOD
    catalog = sorted(library.glob("catalog.sqlite*"))  # its write-ahead log and index too
    good = {f: f.read_bytes() for f in catalog}
    for f in catalog:  # in place: the page's open connections read the junk
        f.write_bytes(b"not a database, " * 4096)
    search(at, "a dog")
    assert not at.exception and not tiles(at) and not at.image
    assert [w.value for w in at.warning] == [WORDS[lang]["catalog_failed"]]
    (message,) = [t for t in texts(at) if "catalog" in t]
    assert "Traceback" not in message and "\n" not in message
    assert not [e for e in [*at.error, *at.exception]]
    for f, data in good.items():
        f.write_bytes(data)
    at.run()  # a reload
    assert not at.exception and not at.warning and len(tiles(at)) == GOOD


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_postgresql_catalog_gone_while_the_page_is_open_is_one_line(
    monkeypatch, tmp_path, tiny, postgres_url, lang
):
    """The page's database dropped under it (its connections killed, as when the server goes
    down): one line in the page's language, no traceback."""
    from sqlalchemy import create_engine, text

    from indexer import Indexer
    from tests.conftest import new_database
    from tests.photos import make_photos

    url = new_database(postgres_url)
    Indexer(library=tmp_path / "lib", model=str(tiny), catalog_url=url).run(
        [make_photos(tmp_path / "photos")]
    )
    monkeypatch.setenv("ALTCLIP_CATALOG", url)
    at = search(app(monkeypatch, tmp_path / "lib", locale=LOCALES[lang]), "sunset")
    assert len(tiles(at)) == GOOD
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    admin.dispose()
    search(at, "a dog")
    assert not at.exception and not tiles(at)
    assert [w.value for w in at.warning] == [WORDS[lang]["catalog_failed"]]


def test_a_query_too_long_is_refused_before_anything_reads_it(monkeypatch, photo_library):
    """`?q=` of 30 000 digits: the page's too-long line at once; the date parser, the model and
    the search never see it (the date parser once took 28 s over it)."""
    from streamlit.testing.v1 import AppTest

    from search import library
    from tests.test_ui import APP

    read = []
    for method in ("dates_said", "search", "query_cut", "query_vector", "query_image"):
        monkeypatch.setattr(Library, method, spy(read, getattr(Library, method)))
    monkeypatch.setattr(library, "parse_dates", spy(read, library.parse_dates))
    app(monkeypatch, photo_library)  # the library opened (once per server)
    read.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["q"] = "1" * 30_000
    start = time.monotonic()
    at.run()
    seconds = time.monotonic() - start
    too_long = WORDS["en"]["too_long"].format(length="30,000", limit=f"{MAX_QUERY_CHARS:,}")
    assert not at.exception and [w.value for w in at.warning] == [too_long]
    assert not tiles(at) and not read and seconds < 10
    search(at, "2023年夏天 海边")  # the same page: what the spies see, they tell
    assert "dates_said" in [name for name, _, _ in read]
    assert [name for _, name in tiles(at)] == ["rotated.JPG"]


def spy(read: list, real):
    """`real`, which notes each call in `read` as (name, args, keywords)."""

    def called(*a, **k):
        read.append((real.__name__, a, k))
        return real(*a, **k)

    return called


# File names that look alike or move their own text, each with what the page must show.
INVISIBLE = {
    "IMG_0001.jpg": "IMG_0001.jpg",
    "IMG_0001\u200b.jpg": "IMG_0001\\u200b.jpg",  # zero-width space
    "IMG_0001\u200d.jpg": "IMG_0001\\u200d.jpg",  # zero-width joiner
    "IMG_0001\u200f.jpg": "IMG_0001\\u200f.jpg",  # right-to-left mark
    "IMG_0001\xad.jpg": "IMG_0001\\xad.jpg",  # soft hyphen
    "\ufeffIMG_0001.jpg": "\\ufeffIMG_0001.jpg",  # byte-order mark
    "IMG_\u202e1000.jpg": "IMG_\\u202e1000.jpg",  # right-to-left override
    "IMG_\u20670001.jpg": "IMG_\\u20670001.jpg",  # right-to-left isolate
    "IMG_0001\u3164.jpg": "IMG_0001\\u3164.jpg",  # Hangul filler: a letter drawn as nothing
    "IMG_0001\\u200b.jpg": "IMG_0001\\\\u200b.jpg",  # a backslash, not the character
}


@pytest.fixture(scope="module")
def invisible(tmp_path_factory, tiny):
    """A library of INVISIBLE names in a folder "trip" and in one "trip" + U+200B, one file in
    it that cannot be read; its folder."""
    from indexer import Indexer

    root = tmp_path_factory.mktemp("invisible")
    for folder in ("trip", "trip\u200b"):
        (root / "photos" / folder).mkdir(parents=True)
    for seed, name in enumerate(INVISIBLE):
        photo(160, 120, 700 + seed).save(root / "photos" / "trip" / name, "JPEG")
    photo(160, 120, 799).save(root / "photos" / "trip\u200b" / "IMG_0001.jpg", "JPEG")
    (root / "photos" / "trip\u200b" / "broken\u202e.jpg").write_bytes(b"not a photo")
    Indexer(library=root / "lib", model=str(tiny)).run([root / "photos"])
    return root / "lib"


def hidden(line: str) -> bool:
    """Whether `line` holds a character that shows nothing or moves the text around it."""
    return any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for c in line)


def test_invisible_characters_in_names_are_shown(monkeypatch, invisible):
    """Tiles, the viewer (name, folder, full path, copies), the failures list and the folder
    filter: every name that differs looks different, and none reverses its text."""
    at = search(app(monkeypatch, invisible), "a photo")
    shown = [name for _, name in tiles(at)]
    for hit in at.session_state.results:  # each tile opened by its photo, wherever it is now
        folder, name = os.path.split(hit.path)
        folder = {"trip": "trip", "trip\u200b": "trip\\u200b"}[os.path.basename(folder)]
        at.button(key=f"open-{hit.id}").click().run()
        assert not at.exception and viewed(at).id == hit.id
        lines = viewer(at)
        assert f"File: {INVISIBLE.get(name, name)}" in lines and f"Folder: {folder}" in lines
        shown += [n for line in lines if (m := COPIES.match(line)) for n in m[1].split(", ")]
    assert sorted(shown) == sorted([*INVISIBLE.values(), "IMG_0001.jpg"])
    at.toggle(key="show-path").set_value(True).run()
    (path,) = [t for t in viewer(at) if t.startswith("/")]
    assert path.endswith(f"/{folder}/{INVISIBLE.get(name, name)}")
    folders = at.selectbox(key="folder").options
    assert [f.rsplit("/", 1)[-1] for f in folders] == ["photos", "trip", "trip\\u200b"]
    (failed,) = [t.value for t in at.sidebar.text if "broken" in t.value]
    assert failed.startswith(f"{invisible.parent}/photos/trip\\u200b/broken\\u202e.jpg: ")
    everything = [*texts(at), *(t.value for t in at.sidebar.text), *folders, *viewer(at)]
    assert not [line for line in everything if hidden(line)]


COPIES = re.compile(
    re.escape(WORDS["en"]["copies"]).replace(r"\{n\}", r"\d+").replace(r"\{names\}", "(.*)")
)
