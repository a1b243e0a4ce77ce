"""The top of the page, before anything of the library: the title, the language switch and,
where ALTCLIP_PASSWORD is set, the password."""

from __future__ import annotations

import hmac
import threading
import time

import streamlit as st

from search.settings import Settings
from ui.i18n import Strings, choose, languages, strings

WRONG_PASSWORD_WAIT = 1.0  # seconds


def language_ui() -> Strings:
    """The switch between the languages there are strings for, starting from the browser's;
    kept in the URL (?lang=zh), so that a reload or a shared link keeps it."""
    names = languages()
    header = st.container(horizontal=True, vertical_alignment="center", key="header")
    title = header.empty()
    asked = st.query_params.get("lang")  # the code, ?lang=zh (a bound widget would write 中文)
    code = header.segmented_control(
        "Language · 语言",
        list(names),
        format_func=names.get,
        default=asked if asked in names else choose(st.context.locale),
        required=True,
        key="lang",
        label_visibility="collapsed",
        width="content",
    )
    st.query_params["lang"] = code
    tr = strings(code)
    title.subheader(tr("title"), anchor=False)
    return tr


def password_ui(tr: Strings) -> bool:
    """Whether this session may see the library: no password is set, or it has been given."""
    password = Settings.from_env().password
    if not password or st.session_state.get("signed_in"):
        return True
    gate = st.empty()  # cleared on success, so the box and its value leave the page
    with gate.container():  # the title is the header's
        given = st.text_input(tr("password"), type="password")
    if not given:
        return False
    if right_password(given, password):
        st.session_state.signed_in = True
        gate.empty()
        return True
    st.error(tr("password_wrong"))
    return False


def right_password(given: str, password: str) -> bool:
    """Whether `given` is the password, compared in constant time (how long a wrong guess takes
    does not tell how much of it matched). Guesses are checked one at a time across all sessions
    and a wrong one holds the line for WRONG_PASSWORD_WAIT s, so a script guesses once a second
    at most, however many connections it opens; the price: while one guesses, a person signing
    in waits in the same line."""
    with password_line():
        if hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), password.encode("utf-8", "surrogatepass")
        ):
            return True
        time.sleep(WRONG_PASSWORD_WAIT)
        return False


@st.cache_resource(show_spinner=False)
def password_line() -> threading.Lock:
    return threading.Lock()
