"""The filters: on the page (not in the sidebar, so that a phone reaches them), and each one in
use a chip whose ✕ removes it; the dates said in the query too ("2023年夏天")."""

from __future__ import annotations

import os
from datetime import date, datetime

import streamlit as st

from search import Library, plain
from search.query import Query
from ui.i18n import Strings
from ui.show import name, text
from ui.state import new_upload, upload_key

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


def filters_ui(lib: Library, tr: Strings) -> dict:
    """Folder (the library's own, type to find), dates, file types, photos with text, a concept
    to leave out, matches only: `Library.search`'s keywords for them."""
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
        st.toggle(tr("with_text"), help=tr("with_text_help"), key="with_text")
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
        with_text=s.with_text,
        matches_only=s.matches_only,
    )


def folder_names(lib: Library) -> dict[str, str]:
    """{name shown: absolute folder} of the library's folders, shown from the folder that holds
    them all (`photos/2023/summer`)."""
    folders = lib.folders()
    top = os.path.dirname(folders[0]) if folders else ""
    return {name(os.path.relpath(f, top)): f for f in folders}


def chips_ui(lib: Library, query: str, tr: Strings) -> None:
    """The filters in use, each a chip whose ✕ removes it."""
    labels = {
        "said": lambda v: said_label(v, tr),
        "folder": lambda v: tr("chip_folder", folder=v),
        "dates": lambda v: tr("chip_dates", start=tr.date(v[0]), end=tr.date(v[1])),
        "kinds": lambda v: tr("chip_types", types=v),
        "with_text": lambda v: tr("chip_with_text"),
        "negative": lambda v: tr("chip_negative", text=v),
        "like": lambda v: tr("chip_like", name=v),
        "upload": lambda v: tr("chip_upload"),
        "matches": lambda v: tr("chip_matches"),
    }
    active = current_filters(lib, query)
    if not active:
        return
    with st.container(horizontal=True, key="chips"):
        for chip, value in active.items():
            with st.container(horizontal=True, width="content", gap=None, key=f"chip-{chip}"):
                text(labels[chip](value))
                st.button(
                    "✕",
                    key=f"remove-{chip}",
                    help=tr("remove"),
                    on_click=remove,
                    args=(chip, query),
                )


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
    if s.get("with_text"):
        found["with_text"] = ""
    if plain(s.get("negative", "")):
        found["negative"] = plain(s.negative)
    if s.get("matches_only"):
        found["matches"] = ""
    if s.get("like") is not None:
        found["like"] = s.like_name
    if s.get(upload_key()) is not None:
        found["upload"] = ""
    return found


def remove(chip: str, query: str) -> None:
    s = st.session_state
    if chip == "said":
        s.dates_off = query  # search these words as words
    elif chip == "folder":
        s.folder = None
    elif chip == "dates":
        s.dates = ()
    elif chip == "kinds":
        s.kinds = []
    elif chip == "with_text":
        s.with_text = False
    elif chip == "negative":
        s.negative = ""
    elif chip == "like":
        s.like = None
    elif chip == "upload":
        new_upload()
    elif chip == "matches":
        s.matches_only = False


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
