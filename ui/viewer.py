"""The viewer over the grid: the photo at screen size, previous/next (arrow keys too), its
details, "why this photo?", "more like this" and "what is it?"."""

from __future__ import annotations

import os
import re
from pathlib import Path

import streamlit as st
from PIL import Image, ImageDraw

from search import AltCLIPError, Hit, Library
from search.explain import overlay
from ui.grid import bands
from ui.i18n import Strings
from ui.problems import problem_ui
from ui.show import inline, name, short, text
from ui.state import new_upload

WHY_GRID = 4  # cells of the "why this photo" map along a photo's shorter side


def viewer_ui(lib: Library, tr: Strings) -> None:
    """The photo `viewing` (its id) over the grid, which stays as it was (query, results,
    scroll position), until it is closed (Esc, ✕ or a click beside it). Photos indexed
    meanwhile move the results, not the photo shown; once it has left them, it closes."""
    if place(st.session_state.results) is None:
        close()
        return
    # Esc as a shortcut of the page, not only of the dialog: the dialog hears Esc only while the
    # focus is inside it, and the focus falls to the page when ← or → reaches the end of the
    # results and its button is disabled. The button is hidden (style.LAYOUT).
    st.button(tr("close"), key="close-viewer", shortcut="Esc", on_click=close)
    st.dialog(tr("viewer"), width="large", on_dismiss=close)(photo_ui)(lib, tr)


def photo_ui(lib: Library, tr: Strings) -> None:
    """The viewer's content: re-run alone (a fragment) when previous, next or a label changes."""
    hits = st.session_state.results
    i = place(hits)
    if i is None:  # closed from inside it ("more like this"): the page runs again, without it
        st.rerun()
    hit = hits[i]
    picture, about = st.columns([3, 2], vertical_alignment="center")
    preview = lib.preview(hit)  # screen-size, made at indexing time
    try:
        image = preview if preview is not None else lib.open_photo(hit.id, 1600)
        if image is not None and hit.words is not None and hit.words.box:
            image = outlined(image, hit.words.box)
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
        details_ui(hits, i, tr)
        shown = st.session_state.get("why_for") == hit.id
        st.button(tr("why_hide" if shown else "why"), key="why", on_click=toggle_why, args=(hit,))
        if shown:
            st.caption(tr("why_caption"))
        if st.button(tr("more_like"), key="more-like", on_click=more_like, args=(hit,)):
            st.rerun()  # the whole page, with the new query; the viewer closes
        labels_ui(lib, hit, tr)


def details_ui(hits: list[Hit], i: int, tr: Strings) -> None:
    """Of the `i`th of `hits`: when it was taken, its size, folder and file name (the full path
    on request), its relevance, and the copies of it the tile holds."""
    hit = hits[i]
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
    text(tr("relevance", band=tr(bands(hits)[i]), score=f"{hit.score:.3f}"))
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


def outlined(image: Path | Image.Image, box) -> Image.Image:
    """The photo (its preview's path, or the image) with the box of the words that found it
    outlined; `box`: four corners as fractions of the photo's width and height."""
    if isinstance(image, Path):
        with Image.open(image) as f:
            photo = f.convert("RGB")
    else:
        photo = image.convert("RGB")
    w, h = photo.size
    corners = [(x * w, y * h) for x, y in box]
    ImageDraw.Draw(photo).polygon(corners, outline=(255, 80, 0), width=max(2, w // 320))
    return photo


def toggle_why(hit: Hit) -> None:
    s = st.session_state
    s.why_for = None if s.get("why_for") == hit.id else hit.id


def close() -> None:
    st.session_state.viewing = None


def place(hits: list[Hit]) -> int | None:
    """Where the photo in the viewer is among `hits`, or None."""
    viewing = st.session_state.get("viewing")
    return next((i for i, hit in enumerate(hits) if hit.id == viewing), None)


def step(by: int) -> None:
    hits = st.session_state.results
    st.session_state.viewing = hits[min(max(0, place(hits) + by), len(hits) - 1)].id


def more_like(hit: Hit) -> None:
    """Photos like this one, from its stored vector: the new query, alone."""
    s = st.session_state
    s.like, s.like_name = hit.id, name(os.path.basename(hit.path))
    s.query = ""
    new_upload()
    s.viewing = None
