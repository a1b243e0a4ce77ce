"""The Streamlit app: type 「海边的日落」 or "sunset at the beach", see your photos.

Run it with `altclip-ui [--library DIR]`. The page speaks the browser's language (Chinese or
English, `ui/strings/`; a switch at the top changes it). An even grid of square thumbnails; a click
on a photo opens a viewer over the grid with its preview, previous/next (arrow keys too), details
and "more like this". It reads only the library: thumbnails and previews the indexer made, and the
original file of a photo the catalog lists when there is no preview; no path comes from the page.
Names, paths and messages are shown with `text()`, never as Markdown, file and folder names through
`name()`. With ALTCLIP_PASSWORD set (altclip-ui requires one beyond this machine) nothing of the
library is shown before it is given, and pictures travel only inside the page's own messages
(`inline()`), never through Streamlit's media endpoint, which serves anyone who has the link.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from datetime import date, datetime
from pathlib import Path

import streamlit as st
from PIL import Image

from search import (
    MAX_QUERY_CHARS,
    AltCLIPError,
    CatalogError,
    CheckpointError,
    Hit,
    Library,
    ModelNotFound,
    NoLibrary,
    QueryTooLong,
    UnreadableImage,
    image_types,
    plain,
)
from search.explain import overlay
from search.query import Query
from search.settings import Settings
from ui.i18n import Strings, choose, languages, strings
from ui.show import inline, name, text

PAGE = 30  # photos per "show more"
WRONG_PASSWORD_WAIT = 1.0  # seconds
WHY_GRID = 4  # cells of the "why this photo" map along a photo's shorter side
SHORT_QUERY = 80  # characters of a query echoed above the grid
KINDS = {
    "JPEG": ["jpg", "jpeg", "jpe"],
    "PNG": ["png"],
    "HEIC": ["heic", "heif"],
    "WebP": ["webp"],
    "GIF": ["gif"],
    "TIFF": ["tif", "tiff"],
    "BMP": ["bmp"],
    "AVIF": ["avif"],
}
# CSS only (no script): square tiles whose whole photo is the button that opens it, one line
# of caption, and a viewer that fits the screen without enlarging a small photo.
STYLE = """<style>
.st-key-grid [class*="st-key-tile-"] { position: relative; gap: 0.15rem; }
.st-key-grid [data-testid="stImage"] img, .st-key-grid [class*="st-key-blank-"] {
  aspect-ratio: 1 / 1; width: 100%; object-fit: cover; border-radius: 6px;
}
.st-key-grid [class*="st-key-blank-"] { background: rgba(128, 128, 128, 0.2); }
.st-key-grid [data-testid="stText"], .st-key-grid [data-testid="stText"] span {
  display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  font-size: 0.8rem;
}
.st-key-grid [data-testid="stElementToolbar"] { display: none; }
.st-key-grid [data-testid="stElementContainer"]:has(.stButton) {
  position: absolute; inset: 0; z-index: 1;
}
.st-key-grid .stButton, .st-key-grid .stButton button {
  width: 100%; height: 100%; opacity: 0; cursor: zoom-in;
}
[data-testid="stDialog"] [data-testid="stImage"] img {
  max-height: 78vh; max-width: 100%; width: auto; object-fit: contain;
}
[class*="st-key-chip-"] {
  border: 1px solid rgba(128, 128, 128, 0.4); border-radius: 1rem; padding: 0 0.2rem 0 0.7rem;
  align-items: center;
}
[class*="st-key-chip-"] button { border: none; background: none; padding: 0 0.4rem; }
</style>"""


def language_ui() -> Strings:
    """The switch between the languages there are strings for, starting from the browser's;
    kept in the URL (?lang=zh), so that a reload or a shared link keeps it."""
    names = languages()
    header = st.container(horizontal=True, vertical_alignment="center", key="header")
    title = header.empty()
    asked = st.query_params.get("lang")  # the code, ?lang=zh (a bound widget would write 中文)
    code = header.segmented_control(
        "Language · 语言",
        list(names),
        format_func=names.get,
        default=asked if asked in names else choose(st.context.locale),
        required=True,
        key="lang",
        label_visibility="collapsed",
        width="content",
    )
    st.query_params["lang"] = code
    tr = strings(code)
    title.subheader(tr("title"), anchor=False)
    return tr


def password_ui(tr: Strings) -> bool:
    """Whether this session may see the library: no password is set, or it has been given."""
    password = Settings.from_env().password
    if not password or st.session_state.get("signed_in"):
        return True
    gate = st.empty()  # cleared on success, so the box and its value leave the page
    with gate.container():
        st.title(tr("title"), anchor=False)
        given = st.text_input(tr("password"), type="password")
    if not given:
        return False
    if right_password(given, password):
        st.session_state.signed_in = True
        gate.empty()
        return True
    st.error(tr("password_wrong"))
    return False


def right_password(given: str, password: str) -> bool:
    """Whether `given` is the password, compared in constant time (how long a wrong guess takes
    does not tell how much of it matched). Guesses are checked one at a time across all sessions
    and a wrong one holds the line for WRONG_PASSWORD_WAIT s, so a script guesses once a second
    at most, however many connections it opens; the price: while one guesses, a person signing
    in waits in the same line."""
    with password_line():
        if hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), password.encode("utf-8", "surrogatepass")
        ):
            return True
        time.sleep(WRONG_PASSWORD_WAIT)
        return False


@st.cache_resource(show_spinner=False)
def password_line() -> threading.Lock:
    return threading.Lock()


@st.cache_resource(show_spinner=False)
def open_library(folder: str, catalog: str | None) -> Library:
    """The library, opened once per server. An error is not cached: once the person has built
    the library, reloading the page finds it."""
    env = Settings.from_env()
    lib = Library.open(folder, catalog, int8=env.int8, hemisphere=env.hemisphere)
    lib.warm_up()  # index and text tower load while the person types
    return lib


def problem_ui(e: AltCLIPError, tr: Strings, opening: bool = False) -> None:
    """One line in the page's language that says what to do, and, where the library says which
    command or file, that line as text; never a traceback, nor an image's error (it may hold a
    server path). `opening`: the library was being opened; else it was open and has failed since
    (its catalog damaged or moved, its database server down)."""
    if isinstance(e, UnreadableImage):
        st.warning(tr("unreadable"))
    elif isinstance(e, (ModelNotFound, CheckpointError)):
        st.warning(tr("model_gone"))
    elif isinstance(e, QueryTooLong):
        key = "too_long" if e.what == "query" else "too_long_negative"
        st.warning(tr(key, length=tr.number(e.length), limit=tr.number(e.limit)))
    else:
        if isinstance(e, NoLibrary):
            st.warning(tr("no_library"))
        else:
            st.warning(tr(problem_key(e, opening)))
        text(str(e))


def problem_key(e: AltCLIPError, opening: bool) -> str:
    if not isinstance(e, CatalogError):
        return "problem"
    return "catalog_problem" if opening else "catalog_failed"


def status_ui(lib: Library, tr: Strings) -> None:
    """The library in plain words, in the sidebar: how many photos, when last updated, how many
    files could not be read (the list one click away), and the model's short name."""
    s = lib.status()
    bar = st.sidebar
    if s.last_indexed is None:
        text(tr("status_empty"), bar)
    else:
        bar.metric(tr("photos"), tr.number(s.photos))
        text(tr("updated", when=tr.when(s.last_indexed, datetime.now())), bar)
    if s.failed:
        key = "failed_one" if s.failed == 1 else "failed"
        with bar.expander(tr(key, n=tr.number(s.failed))):
            for path, reason in lib.failures():
                text(f"{name(path)}: {reason}")
    text(tr("model", name=s.model_short), bar)


def query_ui(lib: Library, tr: Strings) -> tuple[str, bytes | None]:
    """The text query (`plain`), and an uploaded photo's bytes, previewed. The page never
    decodes an upload itself: the library reads it within its limits (a tiny PNG can claim
    gigapixels). The text is kept in the URL (?q=), so that a reload or a shared link searches
    it again."""
    if "query" not in st.session_state:  # a new session: the URL's query, if it has one
        st.session_state.query = st.query_params.get("q", "")
    query = plain(
        st.text_input(tr("search_label"), placeholder=tr("search_placeholder"), key="query")
    )
    if query:
        st.query_params["q"] = query
    else:
        st.query_params.pop("q", None)
    key = f"upload-{st.session_state.uploads}"
    with st.expander(tr("upload_section"), expanded=st.session_state.get(key) is not None):
        upload = st.file_uploader(tr("upload_label"), type=image_types(), key=key)
        data = upload.getvalue() if upload is not None else None
        if data is not None:
            try:
                preview = inline(lib.query_image(data, 480))
                st.image(preview, caption=tr("upload_caption"), width=160)
            except AltCLIPError:
                pass  # the search says it, once
    return query, data


def filters_ui(lib: Library, tr: Strings) -> dict:
    """Folder (the library's own, type to find), dates, file types, a concept to leave out,
    matches only, and the order; on the page, not in the sidebar, so that a phone reaches them
    too."""
    folders = folder_names(lib)
    with st.expander(tr("filters")):
        st.selectbox(
            tr("folder"),
            list(folders),
            index=None,
            placeholder=tr("folder_placeholder"),
            key="folder",
        )
        st.date_input(
            tr("dates"),
            value=(),
            min_value=date(1900, 1, 1),
            format="YYYY-MM-DD",  # one for every language: a format of its own resets the dates
            key="dates",
        )
        st.multiselect(tr("types"), list(KINDS), placeholder=tr("types_placeholder"), key="kinds")
        st.text_input(tr("negative"), placeholder=tr("negative_placeholder"), key="negative")
        st.toggle(tr("matches_only"), help=tr("matches_only_help"), key="matches_only")
    s = st.session_state
    after = before = None
    if len(s.dates) == 2:
        after = datetime.combine(s.dates[0], datetime.min.time())
        before = datetime.combine(s.dates[1], datetime.max.time())
    return dict(
        negative=plain(s.negative) or None,
        folder=folders.get(s.folder),
        after=after,
        before=before,
        kinds=[ext for kind in s.kinds for ext in KINDS[kind]] or None,
        matches_only=s.matches_only,
    )


def folder_names(lib: Library) -> dict[str, str]:
    """{name shown: absolute folder} of the library's folders, shown from the folder that holds
    them all (`photos/2023/summer`)."""
    folders = lib.folders()
    top = os.path.dirname(folders[0]) if folders else ""
    return {name(os.path.relpath(f, top)): f for f in folders}


def current_filters(lib: Library, query: str) -> dict[str, object]:
    """{filter: what it is} of every filter in use, for its chip."""
    s = st.session_state
    found = {}
    if (said := said_dates(lib, query)) is not None:
        found["said"] = said
    if s.get("folder"):
        found["folder"] = s.folder
    if len(s.get("dates", ())) == 2:
        found["dates"] = s.dates
    if s.get("kinds"):
        found["kinds"] = ", ".join(s.kinds)
    if plain(s.get("negative", "")):
        found["negative"] = plain(s.negative)
    if s.get("matches_only"):
        found["matches"] = ""
    if s.get("like") is not None:
        found["like"] = s.like_name
    if s.get(f"upload-{s.get('uploads', 0)}") is not None:
        found["upload"] = ""
    return found


def said_dates(lib: Library, query: str) -> Query | None:
    """The capture dates the library reads in `query` ("2023年夏天", "last summer"), where it
    filters by them: no date range chosen, and not removed for this query."""
    s = st.session_state
    if not query or len(s.get("dates", ())) == 2 or s.get("dates_off") == query:
        return None
    said = lib.dates_said(query)
    return said if said is not None and said.ranges else None  # each has an end at least


def said_label(said: Query, tr: Strings) -> str:
    """Each date phrase of the query with the days it names: 「2023年夏天」：拍摄于 … 至 …"""
    return tr("list_separator").join(said_days(*days, tr) for days in said.days())


def said_days(phrase: str, first: date | None, last: date | None, tr: Strings) -> str:
    if last is None:
        return tr("chip_said_since", phrase=phrase, start=tr.date(first))
    if first is None:
        return tr("chip_said_until", phrase=phrase, end=tr.date(last))
    if first == last:
        return tr("chip_said_day", phrase=phrase, day=tr.date(last))
    return tr("chip_said", phrase=phrase, start=tr.date(first), end=tr.date(last))


def chips_ui(lib: Library, query: str, tr: Strings) -> None:
    """The filters in use, each a chip whose ✕ removes it."""
    labels = {
        "said": lambda v: said_label(v, tr),
        "folder": lambda v: tr("chip_folder", folder=v),
        "dates": lambda v: tr("chip_dates", start=tr.date(v[0]), end=tr.date(v[1])),
        "kinds": lambda v: tr("chip_types", types=v),
        "negative": lambda v: tr("chip_negative", text=v),
        "like": lambda v: tr("chip_like", name=v),
        "upload": lambda v: tr("chip_upload"),
        "matches": lambda v: tr("chip_matches"),
    }
    active = current_filters(lib, query)
    if not active:
        return
    with st.container(horizontal=True, key="chips"):
        for name, value in active.items():
            with st.container(horizontal=True, width="content", gap=None, key=f"chip-{name}"):
                text(labels[name](value))
                st.button(
                    "✕",
                    key=f"remove-{name}",
                    help=tr("remove"),
                    on_click=remove,
                    args=(name, query),
                )


def remove(name: str, query: str) -> None:
    s = st.session_state
    if name == "said":
        s.dates_off = query  # search these words as words
    elif name == "folder":
        s.folder = None
    elif name == "dates":
        s.dates = ()
    elif name == "kinds":
        s.kinds = []
    elif name == "negative":
        s.negative = ""
    elif name == "like":
        s.like = None
    elif name == "upload":
        s.uploads += 1  # a new, empty uploader
    elif name == "matches":
        s.matches_only = False


def band(hit: Hit, best: float) -> str:
    """How well a photo matches, in words: how close its score is to the query's best (cosines
    mean little on their own and differ from one query to the next), at least "good" where the
    search counts it a match (`Hit.match`). A photo the search does not count is not marked
    down: the cut-off's thresholds were chosen on the toy world, not measured on real weights."""
    gap = best - hit.score
    if gap <= 0.02:
        return "band_strong"
    return "band_good" if gap <= 0.06 or hit.match else "band_weak"


def grid_ui(lib: Library, hits: list[Hit], tr: Strings) -> None:
    """An even grid of square thumbnails (six columns on a screen, three on a phone); the
    photo itself is the button that opens it."""
    best = max(h.score for h in hits)
    grid = st.grid(6, min_column_width=100, gap="xsmall", key="grid")
    for i, hit in enumerate(hits):
        with grid.container(key=f"tile-{i}", gap=None):
            thumb = inline(lib.thumbnail(hit))  # None unless a regular file named by a sha256
            if thumb is not None:
                st.image(thumb, width="stretch")
            else:
                st.container(key=f"blank-{i}")
            copies = f" +{len(hit.duplicates)}" if hit.duplicates else ""
            text(f"{tr(band(hit, best))} · {name(os.path.basename(hit.path))}{copies}")
            st.button(tr("open_photo", n=i + 1), key=f"open-{hit.id}", on_click=view, args=(i,))


def view(i: int) -> None:
    st.session_state.viewing = i


def viewer_ui(lib: Library, tr: Strings) -> None:
    """The photo over the grid, which stays as it was (query, results, scroll position)."""

    def closed() -> None:
        st.session_state.viewing = None

    st.dialog(tr("viewer"), width="large", on_dismiss=closed)(photo_ui)(lib, tr)


def photo_ui(lib: Library, tr: Strings) -> None:
    """The viewer's content: re-run alone (a fragment) when previous, next or a label changes."""
    hits = st.session_state.results
    i = min(st.session_state.viewing or 0, len(hits) - 1)
    hit = hits[i]
    picture, about = st.columns([3, 2], vertical_alignment="center")
    preview = lib.preview(hit)  # screen-size, made at indexing time
    try:
        image = preview if preview is not None else lib.open_photo(hit.id, 1600)
        if image is not None and st.session_state.get("why_for") == hit.id:
            with picture, st.spinner(tr("why_busy")):
                image = why(lib, hit, image)
        shown_image = inline(image)
    except AltCLIPError as e:
        with picture:
            problem_ui(e, tr)
        shown_image = False
    except OSError:  # its preview removed since the search (re-indexed meanwhile)
        shown_image = None
    if shown_image is None:
        picture.warning(tr("photo_gone"))
    elif shown_image:
        picture.image(shown_image, width="content")  # never larger than its pixels
    with about:
        with st.container(horizontal=True, vertical_alignment="center", key="viewer-nav"):
            st.button(
                tr("previous"),
                key="previous",
                shortcut="Left",
                disabled=i == 0,
                on_click=step,
                args=(-1,),
            )
            text(tr("position", i=i + 1, n=len(hits)))
            st.button(
                tr("next"),
                key="next",
                shortcut="Right",
                disabled=i == len(hits) - 1,
                on_click=step,
                args=(1,),
            )
        details_ui(hit, hits, tr)
        shown = st.session_state.get("why_for") == hit.id
        st.button(tr("why_hide" if shown else "why"), key="why", on_click=toggle_why, args=(hit,))
        if shown:
            st.caption(tr("why_caption"))
        if st.button(tr("more_like"), key="more-like", on_click=more_like, args=(hit,)):
            st.rerun()  # the whole page, with the new query; the viewer closes
        labels_ui(lib, hit, tr)


def why(lib: Library, hit: Hit, image) -> Image.Image:
    """The photo with where it matches the question laid over it (`Library.explain`), at
    WHY_GRID cells along its shorter side: (WHY_GRID - 1)² passes of the image tower per square
    of the photo, seconds on a GPU, about half a minute on a CPU; kept for the session."""
    s = st.session_state
    key = (hit.id, s.asked)
    if s.get("why_shown", (None,))[0] != key:
        if isinstance(image, Path):  # the preview
            with Image.open(image) as f:
                photo = f.convert("RGBA")
        else:
            photo = image.convert("RGBA")
        heat = lib.explain(hit, lib.query_vector(**s.question), grid=WHY_GRID)
        s.why_shown = key, Image.alpha_composite(photo, overlay(heat, photo.size))
    return s.why_shown[1]


def toggle_why(hit: Hit) -> None:
    s = st.session_state
    s.why_for = None if s.get("why_for") == hit.id else hit.id


def step(by: int) -> None:
    st.session_state.viewing = max(0, st.session_state.viewing + by)


def more_like(hit: Hit) -> None:
    """Photos like this one, from its stored vector: the new query, alone."""
    s = st.session_state
    s.like, s.like_name = hit.id, name(os.path.basename(hit.path))
    s.query = ""
    s.uploads += 1
    s.viewing = None


def details_ui(hit: Hit, hits: list[Hit], tr: Strings) -> None:
    if hit.taken_at is not None:
        text(tr("taken", date=tr.date_time(hit.taken_at)))
    elif hit.modified is not None:
        text(tr("file_date", date=tr.date_time(hit.modified)))
    size = []
    if hit.width and hit.height:
        size.append(tr("pixels", width=tr.number(hit.width), height=tr.number(hit.height)))
    if hit.size:
        if hit.size < 2**20:
            size.append(tr("file_size_kb", kb=tr.number(round(hit.size / 2**10))))
        else:
            size.append(tr("file_size", mb=f"{hit.size / 2**20:.1f}"))
    if size:
        text(tr("list_separator").join(size))
    folder, file = os.path.split(hit.path)
    text(tr("in_folder", folder=name(os.path.basename(folder))))
    text(tr("file_name", name=name(file)))
    if st.toggle(tr("show_path"), key="show-path"):
        text(name(hit.path))
    best = max(h.score for h in hits)
    text(tr("relevance", band=tr(band(hit, best)), score=f"{hit.score:.3f}"))
    if hit.duplicates:
        names = tr("list_separator").join(name(os.path.basename(h.path)) for h in hit.duplicates)
        text(tr("copies", n=tr.number(len(hit.duplicates)), names=short(names, 200)))


def labels_ui(lib: Library, hit: Hit, tr: Strings) -> None:
    """The probabilities of labels the person types, from the photo's stored vector."""
    typed = st.text_input(tr("what_is_it"), placeholder=tr("what_is_it_placeholder"))
    labels = [label.strip() for label in re.split("[,，、]", typed) if label.strip()]
    if not labels:
        return
    try:
        found = lib.classify(hit, labels)
    except AltCLIPError as e:
        problem_ui(e, tr)
        return
    for label, p in found:
        st.progress(p)
        text(f"{p:.0%}: {label}")


def results_ui(lib: Library, query: str, image: bytes | None, options: dict, tr: Strings) -> None:
    s = st.session_state
    like = s.get("like")
    asked = (query, hashlib.sha256(image).hexdigest() if image else None, like, repr(options))
    if s.get("asked") != asked:  # a new question: back to the first page
        s.asked, s.shown, s.viewing = asked, PAGE, None
        s.question = dict(
            text=query or None,
            image=image,
            like=like,
            negative=options["negative"],
            dates=options["dates"],
        )
        s.why_for = None
    start = time.perf_counter()
    try:
        with st.spinner(tr("searching")):
            hits = lib.search(
                query or None, image=image, like=like, k=s.shown, group=True, **options
            )
    except CatalogError:
        raise  # main's: the library is opened afresh
    except AltCLIPError as e:
        problem_ui(e, tr)
        return
    seconds = f"{time.perf_counter() - start:.2f}"
    if query:
        cut = lib.query_cut(query)
        if cut is not None:
            text(tr("token_cut", tail=short(cut[-40:], 40, left=True)))
    if not hits:
        st.info(tr("no_match"))
        return
    head = st.container(horizontal=True, vertical_alignment="center")
    summary = head.empty()  # written last: once it names this query, the grid is on the page
    order = head.segmented_control(
        tr("sort"),
        ["relevance", "date"],
        format_func=lambda o: tr(f"sort_{o}"),
        default="relevance",
        required=True,
        key="sort",
        label_visibility="collapsed",
    )
    if order == "date":
        hits = sorted(hits, key=lambda h: h.date or datetime.min, reverse=True)
    s.results = hits
    grid_ui(lib, hits, tr)
    if len(hits) == s.shown:
        st.button(tr("show_more"), key="more", on_click=show_more)
    what = []
    if query:
        what.append(tr("what_text", query=short(query, SHORT_QUERY)))
    if image is not None:
        what.append(tr("what_upload"))
    if like is not None:
        what.append(tr("what_like", name=s.like_name))
    n = sum(1 + len(h.duplicates) for h in hits)  # the photos, copies in a tile included
    key = "summary_one" if n == 1 else "summary"
    text(tr(key, n=tr.number(n), what=tr("what_and").join(what), seconds=seconds), summary)
    if s.get("viewing") is not None:  # until it is closed (Esc, ✕ or a click beside it)
        viewer_ui(lib, tr)


def show_more() -> None:
    st.session_state.shown += PAGE


def short(line: str, n: int, left: bool = False) -> str:
    """`line` cut to `n` characters with an ellipsis (`left`: keep its end)."""
    if len(line) <= n:
        return line
    return "…" + line[-n + 1 :] if left else line[: n - 1] + "…"


def main() -> None:
    st.set_page_config(page_title="Photo search · 照片搜索", page_icon="🔎", layout="wide")
    st.html(STYLE)
    s = st.session_state
    s.setdefault("uploads", 0)
    s.setdefault("like", None)
    tr = language_ui()
    if not password_ui(tr):
        return
    env = Settings.from_env()
    try:
        with st.spinner(tr("opening")):
            lib = open_library(str(env.library), env.catalog)
    except AltCLIPError as e:
        st.title(tr("title"), anchor=False)
        problem_ui(e, tr, opening=True)
        st.caption(tr("reload"))
        return
    try:
        library_ui(lib, tr)
    except AltCLIPError as e:  # since it was opened: its catalog damaged or moved, a server down
        if isinstance(e, CatalogError):
            open_library.clear()  # the next run opens it afresh, or says why it cannot
        problem_ui(e, tr)


def library_ui(lib: Library, tr: Strings) -> None:
    """The page once the library is open: its status, the question, and the answer."""
    s = st.session_state
    status_ui(lib, tr)
    query, image = query_ui(lib, tr)
    options = filters_ui(lib, tr)
    for what, said in (("query", query), ("negative", options["negative"] or "")):
        if len(said) > MAX_QUERY_CHARS:  # refused before anything reads it (dates, the model)
            problem_ui(QueryTooLong(len(said), what=what), tr)
            return
    options["dates"] = s.get("dates_off") != query  # its ✕ keeps the date words as words
    chips_ui(lib, query, tr)
    if not query and image is None and s.like is None:
        st.caption(tr("hint"))
        return
    results_ui(lib, query, image, options, tr)


# Streamlit runs this file as __main__; an import (a test, a tool) starts nothing.
if __name__ == "__main__":
    main()
