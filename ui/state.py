"""The session's keys that more than one part of the page reads or writes (`st.session_state`).

The filters' own widgets (`folder`, `dates`, `kinds`, `with_text`, `negative`, `matches_only`)
and the search box (`query`) keep their values under their keys; besides them:

- `signed_in`: the password was given (header).
- `uploads`: how many uploaders there have been; the one on the page is `upload_key()`
  (`new_upload()`: a chip's ✕, "more like this").
- `like`, `like_name`: "more like this", the photo's id and its name as shown (viewer; its
  chip's ✕).
- `dates_off`: the query whose dates are searched as words (their chip's ✕).
- `asked`, `question`: the question the results answer, and it as `Library.query_vector`'s
  arguments (grid).
- `shown`, `results`: how many results are asked for; the results, in the order shown (grid).
- `viewing`: the id of the photo in the viewer (`Hit.id`), None when closed (grid, viewer): its
  place in `results` may change from one run to the next (photos indexed meanwhile).
- `why_for`, `why_shown`: the photo whose "why" map is shown; the map, kept for the session
  (viewer).
"""

from __future__ import annotations

import streamlit as st


def start() -> None:
    """The keys every part may read before anything has written them."""
    s = st.session_state
    s.setdefault("uploads", 0)
    s.setdefault("like", None)


def upload_key() -> str:
    """The key of the uploader on the page now."""
    return f"upload-{st.session_state.get('uploads', 0)}"


def new_upload() -> None:
    """A new, empty uploader in place of the one there was (Streamlit has no way to empty one)."""
    st.session_state.uploads += 1
