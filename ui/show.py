"""How the page shows what it did not write: text as the characters it holds (`text`), file and
folder names so that two never look alike (`name`), and pictures inside the page's own messages
(`inline`), never through Streamlit's media endpoint, which serves anyone who has the link.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import streamlit as st
from PIL import Image

from search.terminal import escaped, hidden

# The two kinds of picture the indexer stores (Library.thumbnail, Library.preview).
MEDIA_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg"}


def text(line: str, where=st) -> None:
    """Show `line` as the characters it holds. Every file name, path, model name, message and
    query echo goes through here: Streamlit's Markdown (captions, alerts, labels) fetches
    `![x](https://host/x)` images, links URLs and turns `:red[x]`, `$x$`, `:streamlit:` and `->`
    into colour, LaTeX, logos and arrows, and some of those act on text that backslashes have
    already escaped. st.text parses nothing."""
    where.text(shown(line))


def shown(line: str) -> str:
    """`line` on one line, each character `hidden` calls hidden (controls, so that a line break
    cannot forge a second line; format characters, such as zero-width spaces and bidi overrides;
    those drawn as nothing) as its escape (\\n, \\u200b)."""
    if line.isascii() and line.isprintable():  # the common case, at C speed: none is hidden
        return line
    return "".join(c.encode("unicode_escape").decode("ascii") if hidden(c) else c for c in line)


def name(path: str) -> str:
    """A file or folder name (or a path) as the page shows it: which one exactly, by the rule
    the command lines print names by (`escaped`): a byte that was not UTF-8 as \\xNN (two such
    names would both read "�"), a backslash doubled (a name holding "\\u200b" is not the one
    holding U+200B), what `hidden` calls hidden as its escape, so that "IMG_0001.jpg" and
    "IMG_0001\\u200b.jpg" never look alike."""
    if path.isascii() and path.isprintable() and "\\" not in path:  # most names, at C speed
        return path
    return escaped(path)


def short(line: str, n: int, left: bool = False) -> str:
    """`line` cut to `n` characters with an ellipsis (`left`: keep its end)."""
    if len(line) <= n:
        return line
    return "…" + line[-n + 1 :] if left else line[: n - 1] + "…"


def inline(picture: Path | Image.Image | None) -> str | None:
    """A stored picture (a file `MEDIA_TYPES` names) or a made one as a `data:` URI, which
    st.image passes on untouched; None for none, or a file gone since. Given a file or an image,
    st.image hands its bytes to Streamlit's media endpoint, `/media/<hash of the bytes>`, which
    serves them to any client that has the link, without the password or a session; inside the
    page's own messages they reach only the session that is shown them. Made pictures (the heat
    map, an upload's preview) are photos: JPEG."""
    if picture is None:
        return None
    if isinstance(picture, Image.Image):
        buf = io.BytesIO()
        picture.convert("RGB").save(buf, "JPEG", quality=90)
        data, kind = buf.getvalue(), "image/jpeg"
    else:
        try:  # a regular file in the library's own folder (Library._stored)
            with open(picture, "rb") as f:
                data = f.read()
        except OSError:
            return None
        kind = MEDIA_TYPES[picture.suffix]
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
