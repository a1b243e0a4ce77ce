"""The Streamlit app: type 「海边的日落」 or "sunset at the beach", see your photos ranked.

Run it with `altclip-ui [--library DIR]`. It reads only the library: thumbnails for the grid, and
the original file of a photo the catalog lists when a person opens it; no path comes from the page.
Names, paths and messages are shown with `text()`, never as Markdown. With ALTCLIP_PASSWORD set
(altclip-ui requires one beyond this machine) nothing of the library is shown before it is given.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from datetime import date, datetime

import streamlit as st

from search import (
    AltCLIPError,
    CheckpointError,
    Hit,
    Library,
    ModelNotFound,
    UnreadableImage,
)
from search.settings import Settings

COLUMNS = 5
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
# Line breaks and bidi overrides, which would let a file name forge a second line or reverse
# its own extension.
INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
UNREADABLE = "That file could not be read as a photo. · 无法把这个文件读作照片。"
MODEL_GONE = (
    "The model this library was indexed with cannot be loaded: put its folder back where it was, "
    "or re-index with `altclip-index PHOTOS --rebuild --model MODEL`."
)


def text(line: str, where=st) -> None:
    """Show `line` as the characters it holds. Every file name, path, model name, message and
    query echo goes through here: Streamlit's Markdown (captions, alerts, labels) fetches
    `![x](https://host/x)` images, links URLs and turns `:red[x]`, `$x$`, `:streamlit:` and `->`
    into colour, LaTeX, logos and arrows, and some of those act on text that backslashes have
    already escaped. st.text parses nothing."""
    where.text(INVISIBLE.sub(lambda m: m.group().encode("unicode_escape").decode(), line))


def password_ui() -> bool:
    """Whether this session may see the library: no password is set, or it has been given."""
    password = Settings.from_env().password
    if not password or st.session_state.get("signed_in"):
        return True
    gate = st.empty()  # cleared on success, so the box and its value leave the page
    with gate.container():
        st.title("Photo search")
        given = st.text_input("Password · 密码", type="password")
    if not given:
        return False
    # Constant time on bytes: how long a wrong guess takes does not tell how much of it matched.
    expected = password.encode("utf-8", "surrogatepass")
    if hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected):
        st.session_state.signed_in = True
        gate.empty()
        return True
    st.error("That password is not right. · 密码不对。")
    return False


@st.cache_resource(show_spinner="Opening the library…")
def open_library(folder: str, catalog: str | None) -> Library:
    """The library, opened once per server. An error is not cached: once the person has built
    the library, reloading the page finds it."""
    lib = Library.open(folder, catalog)
    lib.warm_up()  # index and text tower load while the person types
    return lib


def problem_ui(e: AltCLIPError) -> None:
    """One line that says what to do; never a traceback, nor an image's error (it may hold a
    server path)."""
    if isinstance(e, UnreadableImage):
        st.warning(UNREADABLE)
    elif isinstance(e, (ModelNotFound, CheckpointError)):
        st.warning(MODEL_GONE)
    else:
        text(f"⚠️ {e}")


def status_ui(lib: Library) -> None:
    s = lib.status()
    st.sidebar.metric("Photos", f"{s.photos:,}")
    if s.failed:
        st.sidebar.caption(f"{s.failed} file(s) could not be indexed (altclip-index --report)")
    text(f"Model: {s.model}", st.sidebar)
    if s.last_indexed:
        st.sidebar.caption(f"Last indexed: {s.last_indexed:%Y-%m-%d %H:%M}")


def options_ui() -> dict:
    st.sidebar.header("Results")
    k = st.sidebar.slider("How many", 5, 200, 30, step=5)
    min_score = st.sidebar.slider("Minimum score", -1.0, 1.0, -1.0, step=0.01)
    st.sidebar.header("Filters")
    negative = st.sidebar.text_input("Not showing", placeholder="e.g. people")
    folder = st.sidebar.text_input("In folder", placeholder="e.g. 2023/summer")
    dates = st.sidebar.date_input("Taken between", value=(), min_value=date(1900, 1, 1))
    kinds = st.sidebar.multiselect("File types", list(KINDS), placeholder="all")
    after = before = None
    if len(dates) == 2:
        after = datetime.combine(dates[0], datetime.min.time())
        before = datetime.combine(dates[1], datetime.max.time())
    return dict(
        k=k,
        min_score=min_score if min_score > -1 else None,
        negative=negative or None,
        folder=folder or None,
        after=after,
        before=before,
        kinds=[ext for kind in kinds for ext in KINDS[kind]] or None,
    )


def query_ui() -> tuple[str, bytes | None]:
    """The text query, stripped, and the uploaded photo's bytes. The page never decodes an
    upload: the library reads it within its limits (a tiny PNG can claim gigapixels)."""
    query = st.text_input("Search your photos", placeholder="海边的日落 · sunset at the beach · 猫")
    upload = st.file_uploader(
        "…or find photos like this one", type=[ext for exts in KINDS.values() for ext in exts]
    )
    return query.strip(), upload.getvalue() if upload is not None else None


def detail_ui(lib: Library, hit: Hit) -> None:
    try:
        image = lib.open_photo(hit.id)  # a catalogued regular file, read within the limits
    except AltCLIPError as e:
        problem_ui(e)
        return
    if image is None:
        st.warning("That photo is no longer on disk; re-run altclip-index.")
        return
    st.image(image, width="stretch")
    taken = f", taken {hit.taken_at:%Y-%m-%d %H:%M}" if hit.taken_at else ""
    text(f"{hit.display_path} — {hit.width}×{hit.height}{taken}, score {hit.score:.3f}")
    labels_ui(lib, hit)


def labels_ui(lib: Library, hit: Hit) -> None:
    """The probabilities of labels the person types, from the photo's stored vector."""
    typed = st.text_input(
        "What is it? · 这是什么？", placeholder="猫, 狗, 风景 · cat, dog, landscape"
    )
    labels = [label.strip() for label in re.split("[,，、]", typed) if label.strip()]
    if not labels:
        return
    try:
        found = lib.classify(hit, labels)
    except AltCLIPError as e:
        problem_ui(e)
        return
    for label, p in found:
        st.progress(p)
        text(f"{p:.0%} · {label}")


def grid_ui(lib: Library, hits: list[Hit]) -> None:
    for row in range(0, len(hits), COLUMNS):
        for col, hit in zip(st.columns(COLUMNS), hits[row : row + COLUMNS], strict=False):
            with col:
                thumb = lib.thumbnail(hit)  # None unless a regular file named by a real sha256
                if thumb is not None:
                    st.image(str(thumb), width="stretch")
                text(f"{hit.score:.3f} · {os.path.basename(hit.display_path)}")
                if st.button("Open", key=f"open-{hit.id}"):
                    st.session_state.selected = hit


def main() -> None:
    st.set_page_config(page_title="Photo search", page_icon="🔎", layout="wide")
    if not password_ui():
        return
    env = Settings.from_env()
    try:
        lib = open_library(str(env.library), env.catalog)
    except AltCLIPError as e:
        st.title("Photo search")
        problem_ui(e)
        st.caption("Then reload this page.")
        return
    status_ui(lib)
    options = options_ui()
    query, image = query_ui()
    if not query and image is None:
        st.caption("Type what the photo shows, in Chinese, English or any language.")
        return
    start = time.perf_counter()
    try:
        with st.spinner("Searching…"):
            hits = lib.search(query or None, image=image, **options)
    except AltCLIPError as e:
        problem_ui(e)
        return
    if not hits:
        st.info("No photo matches; lower the minimum score or loosen the filters.")
        return
    detail = st.container()  # above the grid, filled once the grid has seen this run's clicks
    summary = st.empty()  # written last: once it names this query, the whole grid is on the page
    grid_ui(lib, hits)
    what = " and ".join(
        ([f"“{query}”"] if query else []) + (["the uploaded image"] if image else [])
    )
    text(f"{len(hits)} photos best matching {what} — {time.perf_counter() - start:.2f} s", summary)
    selected = st.session_state.get("selected")
    if selected is not None and selected.id in {h.id for h in hits}:
        with detail:
            detail_ui(lib, selected)


# Streamlit runs this file as __main__; an import (a test, a tool) starts nothing.
if __name__ == "__main__":
    main()
