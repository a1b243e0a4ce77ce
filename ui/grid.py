"""The answer: the search, its summary, the order, an even grid of square thumbnails with each
photo's match in words, and "show more"."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime

import streamlit as st

from search import AltCLIPError, CatalogError, Hit, Library
from ui.i18n import Strings
from ui.problems import problem_ui
from ui.show import inline, name, short, text

PAGE = 30  # photos per "show more"
SHORT_QUERY = 80  # characters of a query echoed above the grid


def results_ui(
    lib: Library, query: str, image: bytes | None, options: dict, tr: Strings
) -> list[Hit]:
    """The results of the question (`options`: `Library.search`'s keywords from the filters),
    shown; [] where there are none or the search failed (said on the page)."""
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
        return []
    seconds = f"{time.perf_counter() - start:.2f}"
    if query:
        cut = lib.query_cut(query)
        if cut is not None:
            text(tr("token_cut", tail=short(cut[-40:], 40, left=True)))
    if not hits:
        st.info(tr("no_match"))
        return []
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
    return hits


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


def band(hit: Hit, best: float) -> str:
    """How well a photo matches, in words: how close its score is to the query's best (cosines
    mean little on their own and differ from one query to the next), at least "good" where the
    search counts it a match (`Hit.match`). A photo the search does not count is not marked
    down: the cut-off's thresholds were chosen on the toy world, not measured on real weights."""
    gap = best - hit.score
    if gap <= 0.02:
        return "band_strong"
    return "band_good" if gap <= 0.06 or hit.match else "band_weak"


def view(i: int) -> None:
    st.session_state.viewing = i


def show_more() -> None:
    st.session_state.shown += PAGE
