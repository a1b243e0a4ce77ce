"""The question in words and in a photo: the search box and the upload."""

from __future__ import annotations

import streamlit as st

from search import AltCLIPError, Library, image_types, plain
from ui.filters import KINDS
from ui.i18n import Strings
from ui.show import inline
from ui.state import upload_key
from ui.style import UPLOAD_LIMITS, instead


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
    key = upload_key()
    with st.expander(tr("upload_section"), expanded=st.session_state.get(key) is not None):
        mb = max(1, int(lib.max_file_mb))  # the library's limit, which Streamlit then enforces
        upload = st.file_uploader(
            tr("upload_label"), type=image_types(), key=key, max_upload_size=mb
        )
        kinds = [kind for kind, ends in KINDS.items() if set(ends) & set(image_types())]
        limits = tr("upload_limits", types=tr("list_separator").join(kinds), mb=tr.number(mb))
        st.html(f"<style>{instead(UPLOAD_LIMITS, UPLOAD_LIMITS, limits)}</style>")
        data = upload.getvalue() if upload is not None else None
        if data is not None:
            try:
                preview = inline(lib.query_image(data, 480))
                st.image(preview, caption=tr("upload_caption"), width=160)
            except AltCLIPError:
                pass  # the search says it, once
    return query, data
