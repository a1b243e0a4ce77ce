"""The Streamlit app: type 「海边的日落」 or "sunset at the beach", see your photos ranked.

Run it with `altclip-ui [--library DIR]`. It reads only the library: thumbnails for the grid, and
the original file of a photo the catalog lists when a person opens it; no path comes from the page.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime

import streamlit as st
from PIL import Image

from search import Hit, Library, SearchError
from search.catalog import CatalogError

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


@st.cache_resource(show_spinner="Opening the library…")
def open_library(folder: str) -> Library | str:
    """The library, opened once per server; a message instead where there is none."""
    try:
        lib = Library.open(folder)
    except (SearchError, CatalogError) as e:
        return str(e)
    lib.warm_up()  # index and text tower load while the person types
    return lib


def status_ui(lib: Library) -> None:
    s = lib.status()
    st.sidebar.metric("Photos", f"{s.photos:,}")
    if s.failed:
        st.sidebar.caption(f"{s.failed} file(s) could not be indexed (altclip-index --report)")
    st.sidebar.caption(f"Model: {s.model}")
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


def query_ui() -> tuple[str, Image.Image | None]:
    text = st.text_input("Search your photos", placeholder="海边的日落 · sunset at the beach · 猫")
    upload = st.file_uploader("…or find photos like this one", type=["jpg", "jpeg", "png", "webp"])
    image = None
    if upload is not None:
        try:
            image = Image.open(upload)
            image.load()
        except OSError:
            st.warning("That file is not an image that can be read.")
    return text, image


def detail_ui(lib: Library, hit: Hit) -> None:
    path = lib.photo_path(hit.id)  # only a file the catalog lists
    if path is None or not os.path.isfile(path):
        st.warning("That photo is no longer on disk; re-run altclip-index.")
        return
    st.image(path, width="stretch")
    taken = f", taken {hit.taken_at:%Y-%m-%d %H:%M}" if hit.taken_at else ""
    st.caption(f"{hit.display_path} — {hit.width}×{hit.height}{taken}, score {hit.score:.3f}")


def grid_ui(lib: Library, hits: list[Hit]) -> None:
    for row in range(0, len(hits), COLUMNS):
        for col, hit in zip(st.columns(COLUMNS), hits[row : row + COLUMNS], strict=False):
            with col:
                thumb = lib.thumbnail(hit)
                if thumb is not None:
                    st.image(str(thumb), width="stretch")
                st.caption(f"{hit.score:.3f} · {os.path.basename(hit.display_path)}")
                if st.button("Open", key=f"open-{hit.id}"):
                    st.session_state.selected = hit


def main() -> None:
    st.set_page_config(page_title="Photo search", page_icon="🔎", layout="wide")
    folder = os.environ.get("ALTCLIP_LIBRARY", "data")
    lib = open_library(folder)
    if isinstance(lib, str):
        st.title("Photo search")
        st.info(f"{lib}\n\nThen start this page again: `altclip-ui --library {folder}`")
        return
    status_ui(lib)
    options = options_ui()
    text, image = query_ui()
    if not text.strip() and image is None:
        st.caption("Type what the photo shows, in Chinese, English or any language.")
        return
    start = time.perf_counter()
    try:
        with st.spinner("Searching…"):
            hits = lib.search(text if text.strip() else None, image=image, **options)
    except SearchError as e:
        st.warning(str(e))
        return
    if not hits:
        st.info("No photo matches; lower the minimum score or loosen the filters.")
        return
    detail = st.container()  # above the grid, filled once the grid has seen this run's clicks
    summary = st.empty()  # written last: once it names this query, the whole grid is on the page
    grid_ui(lib, hits)
    what = " and ".join(
        ([f"“{text.strip()}”"] if text.strip() else []) + (["the uploaded image"] if image else [])
    )
    summary.caption(
        f"{len(hits)} photos best matching {what} — {time.perf_counter() - start:.2f} s"
    )
    selected = st.session_state.get("selected")
    if selected is not None and selected.id in {h.id for h in hits}:
        with detail:
            detail_ui(lib, selected)


main()
