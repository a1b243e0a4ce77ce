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

This file is the page's flow; its parts are their own files: `header` (title, language,
password), `sidebar` (the library's status), `search_box` (words and an uploaded photo),
`filters` (and their chips), `grid` (the results), `viewer` (one photo over the grid), `problems`
(failures as one line), `show` (how text and pictures reach the page), `style` (the page's CSS,
Streamlit's own words in the page's language), `state` (the session's shared keys) and `demo`
(`altclip-demo`: a library of drawn shapes, which the page says is a demo).
"""

from __future__ import annotations

import streamlit as st

from search import (
    MAX_QUERY_CHARS,
    AltCLIPError,
    CatalogError,
    Library,
    NoLibrary,
    QueryTooLong,
)
from search.settings import Settings
from ui import early, state
from ui.demo import is_demo
from ui.filters import chips_ui, filters_ui
from ui.grid import results_ui
from ui.header import language_ui, password_ui
from ui.i18n import Strings
from ui.problems import no_library_ui, problem_ui
from ui.search_box import query_ui
from ui.sidebar import status_ui
from ui.style import style
from ui.viewer import viewer_ui


@st.cache_resource(show_spinner=False)
def open_library(folder: str, catalog: str | None) -> Library:
    """The library, opened once per server. An error is not cached: once the person has built
    the library, reloading the page finds it."""
    return early.take(folder, catalog) or early.open_library(folder, catalog)


def main() -> None:
    # 🔎 drawn in an SVG, spelled in ASCII: Streamlit tells an emoji by its catalog of them (an
    # import, which ui/serve.py makes before the page asks), and a Material icon fetches Google's
    # font.
    icon = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'>"
    icon += "<text y='.9em' font-size='90'>%F0%9F%94%8E</text></svg>"
    st.set_page_config(page_title="Photo search · 照片搜索", page_icon=icon, layout="wide")
    state.start()
    tr = language_ui()
    st.html(style(tr))
    if not password_ui(tr):
        return
    env = Settings.from_env()
    try:
        with st.spinner(tr("opening")):
            lib = open_library(str(env.library), env.catalog)
    except NoLibrary:
        no_library_ui(env.library, tr)
        return
    except AltCLIPError as e:
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
    """The page once the library is open: the question, its status, and the answer."""
    s = st.session_state
    if is_demo(lib.status().model):
        st.info(tr("demo"))
    # The box first: the browser fetches each kind of widget's code as it arrives, six at once.
    query, image = query_ui(lib, tr)
    status_ui(lib, tr)
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
    hits = results_ui(lib, query, image, options, tr)
    if hits and s.get("viewing") is not None:  # until it is closed (Esc, ✕ or a click beside it)
        viewer_ui(lib, tr)


# Streamlit runs this file as __main__; an import (a test, a tool) starts nothing.
if __name__ == "__main__":
    main()
