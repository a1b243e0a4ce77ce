"""What the page says when something fails: one line in the page's language that says what to
do, never a traceback."""

from __future__ import annotations

import shlex
from pathlib import Path

import streamlit as st

from search import (
    AltCLIPError,
    CatalogError,
    CheckpointError,
    ModelNotFound,
    QueryTooLong,
    UnreadableImage,
)
from ui.i18n import Strings
from ui.show import name, text


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
        st.warning(tr(problem_key(e, opening)))
        text(str(e))


def no_library_ui(folder: Path, tr: Strings) -> None:
    """There is no library (or an empty one) in `folder`: the command that makes it, in the
    page's language, and the demo that needs no model download; where `folder` is a file, that."""
    if folder.is_file():  # the command would fail the same way: what to fix instead
        st.warning(tr("library_is_file"))
        text(name(str(folder)))
        return
    st.warning(tr("no_library"))
    text(tr("no_library_command", folder=name(shlex.quote(str(folder)))))
    st.caption(tr("reload"))
    st.caption(tr("no_library_demo"))


def problem_key(e: AltCLIPError, opening: bool) -> str:
    if not isinstance(e, CatalogError):
        return "problem"
    return "catalog_problem" if opening else "catalog_failed"
