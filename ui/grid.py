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
SHORT_WORDS = 30  # characters of the words under a tile that found its photo


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
    if not hits:  # a photo alone (or "more like this") is not asked in words
        st.info(tr("no_match" if query else "no_match_photo"))
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
    if none_match(hits):
        st.info(tr("none_match"))  # and the tiles say how close, not how well they match
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
    # The tiles shown; the copies folded into them ("+2") said apart, so the number is the grid's.
    copies = sum(len(h.duplicates) for h in hits)
    folded = tr("summary_copies_one" if copies == 1 else "summary_copies", n=tr.number(copies))
    said = dict(what=tr("what_and").join(what), copies=folded if copies else "", seconds=seconds)
    key = "summary_one" if len(hits) == 1 else "summary"
    text(tr(key, n=tr.number(len(hits)), **said), summary)
    return hits


def grid_ui(lib: Library, hits: list[Hit], tr: Strings) -> None:
    """An even grid of square thumbnails (six columns on a screen, three on a phone); the
    photo itself is the button that opens it."""
    grid = st.grid(6, min_column_width=100, gap="xsmall", key="grid")
    for i, (hit, words) in enumerate(zip(hits, bands(hits), strict=True)):
        with grid.container(key=f"tile-{i}", gap=None):
            thumb = inline(lib.thumbnail(hit))  # None unless a regular file named by a sha256
            if thumb is not None:
                st.image(thumb, width="stretch")
            else:
                st.container(key=f"blank-{i}")
            copies = f" +{len(hit.duplicates)}" if hit.duplicates else ""
            text(f"{tr(words)} · {name(os.path.basename(hit.path))}{copies}")
            if hit.words is not None:  # found by the words in it (or its name): which
                text(tr("words_found", words=short(hit.words.text, SHORT_WORDS)))
            st.button(
                tr("open_photo", n=i + 1), key=f"open-{hit.id}", on_click=view, args=(hit.id,)
            )


def bands(hits: list[Hit]) -> list[str]:
    """How well each photo matches, in words (a strings key): how close its score is to the
    query's best (cosines mean little on their own and differ from one query to the next), at
    least "good" where the search counts it a match (`Hit.match`). A photo the search does not
    count is not marked down: the cut-off's thresholds were chosen on the toy world, not
    measured on real weights. But where the search counts none a match, no photo is called one:
    the words say only how close each is ("closest", "close", "far")."""
    best = max(h.score for h in hits)
    words = ("closest", "close", "far") if none_match(hits) else ("strong", "good", "weak")
    found = []
    for hit in hits:
        gap = best - hit.score
        level = 0 if gap <= 0.02 else 1 if gap <= 0.06 or hit.match else 2
        found.append(f"band_{words[level]}")
    return found


def none_match(hits: list[Hit]) -> bool:
    """Whether the search decided and counts none of `hits` a match (None: too few photos to
    decide)."""
    return not any(h.match for h in hits) and any(h.match is False for h in hits)


def view(photo_id: int) -> None:
    st.session_state.viewing = photo_id


def show_more() -> None:
    st.session_state.shown += PAGE
